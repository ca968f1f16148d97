//! People, teams, app keys, channels, custom field definitions, settings.

use async_trait::async_trait;
use dutyhook_domain::ids::PersonId;
use dutyhook_domain::person::{Person, Role};
use dutyhook_domain::DomainError;
use sqlx::Row;

use crate::sql::{count, now_s, Sql};
use crate::store::SqlStore;
use crate::{
    AppKeyRecord, DirectoryStore, Listing, NewPerson, Page, PersonRecord, Result, StoreError,
    TeamRecord,
};

row_struct! {
    struct PersonRow {
        id: i64,
        name: String,
        email: String,
        role: String,
        password_hash: String,
        created_at: i64,
        active: i64,
        mail_off: i64,
    }
}

impl PersonRow {
    fn into_record(self) -> Result<PersonRecord> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| StoreError::Corrupt(format!("role {:?}", self.role)))?;
        Ok(PersonRecord {
            person: Person {
                person_id: PersonId(self.id),
                person_name: self.name,
                email: self.email,
            },
            role,
            created_at: self.created_at,
            password_hash: self.password_hash,
            active: self.active != 0,
            mail_off: self.mail_off != 0,
        })
    }
}

type AppKeyRow = (i64, i64, String, String, i64);

fn app_key_record((app_key_id, person_id, name, key_hint, created_at): AppKeyRow) -> AppKeyRecord {
    AppKeyRecord {
        app_key_id,
        person_id: PersonId(person_id),
        name,
        key_hint,
        created_at,
    }
}

const PERSON_COLS: &str = "id, name, email, role, password_hash, created_at, active, mail_off";

impl SqlStore {
    async fn team_members(&self, team_id: i64) -> Result<Vec<PersonId>> {
        let mut q = Sql::new("SELECT person_id FROM team_members WHERE team_id = ");
        q.i64(team_id).push(" ORDER BY position");
        let rows = q.query().fetch_all(&self.read).await?;
        Ok(rows.iter().map(|r| PersonId(r.get::<i64, _>(0))).collect())
    }

    async fn ensure_people_exist(&self, ids: &[PersonId]) -> Result<()> {
        self.people(ids).await.map(|_| ())
    }
}

async fn insert_members(c: &mut sqlx::AnyConnection, team_id: i64, ids: &[PersonId]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new("INSERT INTO team_members (team_id, person_id, position) VALUES ");
    for (pos, pid) in ids.iter().enumerate() {
        q.push(if pos == 0 { "(" } else { ", (" });
        q.i64(team_id)
            .push(", ")
            .i64(*pid)
            .push(", ")
            .i64(pos as i64)
            .push(")");
    }
    q.query().execute(&mut *c).await?;
    Ok(())
}

#[async_trait]
impl DirectoryStore for SqlStore {
    async fn create_person(&self, p: NewPerson) -> Result<PersonRecord> {
        let mut q =
            Sql::new("INSERT INTO people (name, email, role, password_hash, created_at) VALUES (");
        q.text(&p.name)
            .push(", ")
            .text(&p.email)
            .push(", ")
            .text(p.role.as_str())
            .push(", ");
        q.text(&p.password_hash)
            .push(", ")
            .i64(now_s())
            .push(") RETURNING ")
            .push(PERSON_COLS);
        let email = p.email.clone();
        let row: PersonRow = self
            .writer
            .tx(move |c| {
                let (q, email) = (q.clone(), email.clone());
                Box::pin(async move {
                    q.query_as().fetch_one(&mut *c).await.map_err(|e| {
                        StoreError::conflict_or(e, || {
                            format!("email: a person with email {email:?} already exists")
                        })
                    })
                })
            })
            .await?;
        row.into_record()
    }

    async fn person(&self, person_id: PersonId) -> Result<Option<PersonRecord>> {
        let mut q = Sql::new(&format!("SELECT {PERSON_COLS} FROM people WHERE id = "));
        q.i64(person_id);
        let row: Option<PersonRow> = q.query_as().fetch_optional(&self.read).await?;
        row.map(PersonRow::into_record).transpose()
    }

    async fn person_by_email(&self, email: &str) -> Result<Option<PersonRecord>> {
        let mut q = Sql::new(&format!("SELECT {PERSON_COLS} FROM people WHERE email = "));
        q.text(email.to_ascii_lowercase());
        let row: Option<PersonRow> = q.query_as().fetch_optional(&self.read).await?;
        row.map(PersonRow::into_record).transpose()
    }

    async fn people(&self, ids: &[PersonId]) -> Result<Vec<PersonRecord>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut q = Sql::new(&format!("SELECT {PERSON_COLS} FROM people WHERE id IN "));
        q.list_i64(ids);
        let rows: Vec<PersonRow> = q.query_as().fetch_all(&self.read).await?;
        let found: Vec<PersonRecord> = rows
            .into_iter()
            .map(PersonRow::into_record)
            .collect::<Result<_>>()?;
        ids.iter()
            .map(|id| {
                found
                    .iter()
                    .find(|p| p.person.person_id == *id)
                    .cloned()
                    .ok_or_else(|| DomainError::not_found("person", id).into())
            })
            .collect()
    }

    async fn list_people(&self, page: Page) -> Result<Listing<PersonRecord>> {
        let mut q = Sql::new(&format!(
            "SELECT {PERSON_COLS} FROM people ORDER BY id LIMIT "
        ));
        q.i64(page.limit).push(" OFFSET ").i64(page.offset());
        let rows: Vec<PersonRow> = q.query_as().fetch_all(&self.read).await?;
        Ok(Listing {
            items: rows
                .into_iter()
                .map(PersonRow::into_record)
                .collect::<Result<_>>()?,
            total: count(&self.read, "SELECT COUNT(*) FROM people").await?,
        })
    }

    async fn count_people(&self) -> Result<i64> {
        count(&self.read, "SELECT COUNT(*) FROM people").await
    }

    async fn set_password(&self, person_id: PersonId, password_hash: &str) -> Result<()> {
        let mut q = Sql::new("UPDATE people SET password_hash = ");
        q.text(password_hash).push(" WHERE id = ").i64(person_id);
        if self.exec(q).await? == 0 {
            return Err(DomainError::not_found("person", person_id).into());
        }
        Ok(())
    }

    async fn update_person(
        &self,
        person_id: PersonId,
        name: &str,
        email: &str,
        role: Role,
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE people SET name = ");
        q.text(name).push(", email = ").text(email);
        q.push(", role = ").text(role.as_str());
        q.push(" WHERE id = ").i64(person_id);
        let email = email.to_string();
        let changed = self
            .writer
            .tx(move |c| {
                let (q, email) = (q.clone(), email.clone());
                Box::pin(async move {
                    let done = q.query().execute(&mut *c).await.map_err(|e| {
                        StoreError::conflict_or(e, || {
                            format!("email: a person with email {email:?} already exists")
                        })
                    })?;
                    Ok(done.rows_affected())
                })
            })
            .await?;
        if changed == 0 {
            return Err(DomainError::not_found("person", person_id).into());
        }
        Ok(())
    }

    async fn set_person_active(&self, person_id: PersonId, active: bool) -> Result<()> {
        let mut set = Sql::new("UPDATE people SET active = ");
        set.i64(active as i64).push(" WHERE id = ").i64(person_id);
        let mut statements = vec![set];
        if !active {
            let mut keys = Sql::new("DELETE FROM app_keys WHERE person_id = ");
            keys.i64(person_id);
            let mut sessions = Sql::new("DELETE FROM sessions WHERE person_id = ");
            sessions.i64(person_id);
            let mut invites = Sql::new("DELETE FROM invites WHERE person_id = ");
            invites.i64(person_id);
            statements.extend([keys, sessions, invites]);
        }
        if self.person(person_id).await?.is_none() {
            return Err(DomainError::not_found("person", person_id).into());
        }
        self.exec_all(statements).await
    }

    async fn create_team(&self, name: &str, member_ids: &[PersonId]) -> Result<i64> {
        self.ensure_people_exist(member_ids).await?;
        let (name, member_ids) = (name.to_string(), member_ids.to_vec());
        self.writer
            .tx(move |c| {
                let (name, member_ids) = (name.clone(), member_ids.clone());
                Box::pin(async move {
                    let mut q = Sql::new("INSERT INTO teams (name, created_at) VALUES (");
                    q.text(&name).push(", ").i64(now_s()).push(") RETURNING id");
                    let (id,): (i64,) = q.query_as().fetch_one(&mut *c).await.map_err(|e| {
                        StoreError::conflict_or(e, || {
                            format!("team_name: a team named {name:?} already exists")
                        })
                    })?;
                    insert_members(c, id, &member_ids).await?;
                    Ok(id)
                })
            })
            .await
    }

    async fn update_team(
        &self,
        team_id: i64,
        name: Option<&str>,
        member_ids: Option<&[PersonId]>,
    ) -> Result<()> {
        if self.team(team_id).await?.is_none() {
            return Err(DomainError::not_found("team", team_id).into());
        }
        if let Some(ids) = member_ids {
            self.ensure_people_exist(ids).await?;
        }
        let name = name.map(str::to_string);
        let member_ids = member_ids.map(<[PersonId]>::to_vec);
        self.writer
            .tx(move |c| {
                let (name, member_ids) = (name.clone(), member_ids.clone());
                Box::pin(async move {
                    if let Some(name) = name {
                        let mut q = Sql::new("UPDATE teams SET name = ");
                        q.text(&name).push(" WHERE id = ").i64(team_id);
                        q.query().execute(&mut *c).await.map_err(|e| {
                            StoreError::conflict_or(e, || {
                                format!("team_name: a team named {name:?} already exists")
                            })
                        })?;
                    }
                    if let Some(ids) = member_ids {
                        let mut q = Sql::new("DELETE FROM team_members WHERE team_id = ");
                        q.i64(team_id);
                        q.query().execute(&mut *c).await?;
                        insert_members(c, team_id, &ids).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn team(&self, team_id: i64) -> Result<Option<TeamRecord>> {
        let mut q = Sql::new("SELECT id, name, created_at FROM teams WHERE id = ");
        q.i64(team_id);
        let row: Option<(i64, String, i64)> = q.query_as().fetch_optional(&self.read).await?;
        match row {
            None => Ok(None),
            Some((team_id, team_name, created_at)) => Ok(Some(TeamRecord {
                team_id,
                team_name,
                person_ids: self.team_members(team_id).await?,
                created_at,
            })),
        }
    }

    async fn list_teams(&self, page: Page) -> Result<Listing<TeamRecord>> {
        let mut q = Sql::new("SELECT id, name, created_at FROM teams ORDER BY id LIMIT ");
        q.i64(page.limit).push(" OFFSET ").i64(page.offset());
        let rows: Vec<(i64, String, i64)> = q.query_as().fetch_all(&self.read).await?;
        let mut items = vec![];
        for (team_id, team_name, created_at) in rows {
            items.push(TeamRecord {
                team_id,
                team_name,
                person_ids: self.team_members(team_id).await?,
                created_at,
            });
        }
        Ok(Listing {
            items,
            total: count(&self.read, "SELECT COUNT(*) FROM teams").await?,
        })
    }

    async fn create_app_key(
        &self,
        person_id: PersonId,
        name: &str,
        key_hash: &str,
        key_hint: &str,
    ) -> Result<i64> {
        let mut q = Sql::new(
            "INSERT INTO app_keys (person_id, name, key_hash, key_hint, created_at) VALUES (",
        );
        q.i64(person_id)
            .push(", ")
            .text(name)
            .push(", ")
            .text(key_hash)
            .push(", ");
        q.text(key_hint)
            .push(", ")
            .i64(now_s())
            .push(") RETURNING id");
        let (id,): (i64,) = self
            .writer
            .tx(move |c| {
                let q = q.clone();
                Box::pin(async move { Ok(q.query_as().fetch_one(&mut *c).await?) })
            })
            .await?;
        Ok(id)
    }

    async fn list_app_keys(
        &self,
        person_id: Option<PersonId>,
        page: Page,
    ) -> Result<Listing<AppKeyRecord>> {
        let mut q = Sql::new("SELECT id, person_id, name, key_hint, created_at FROM app_keys");
        let mut c = Sql::new("SELECT COUNT(*) FROM app_keys");
        if let Some(pid) = person_id {
            q.push(" WHERE person_id = ").i64(pid);
            c.push(" WHERE person_id = ").i64(pid);
        }
        q.push(" ORDER BY id LIMIT ")
            .i64(page.limit)
            .push(" OFFSET ")
            .i64(page.offset());
        let rows: Vec<AppKeyRow> = q.query_as().fetch_all(&self.read).await?;
        let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
        Ok(Listing {
            items: rows.into_iter().map(app_key_record).collect(),
            total,
        })
    }

    async fn app_key(&self, app_key_id: i64) -> Result<Option<AppKeyRecord>> {
        let mut q =
            Sql::new("SELECT id, person_id, name, key_hint, created_at FROM app_keys WHERE id = ");
        q.i64(app_key_id);
        let row: Option<AppKeyRow> = q.query_as().fetch_optional(&self.read).await?;
        Ok(row.map(app_key_record))
    }

    async fn delete_app_key(&self, app_key_id: i64) -> Result<()> {
        let mut q = Sql::new("DELETE FROM app_keys WHERE id = ");
        q.i64(app_key_id);
        if self.exec(q).await? == 0 {
            return Err(DomainError::not_found("app key", app_key_id).into());
        }
        Ok(())
    }

    async fn person_by_key_hash(&self, key_hash: &str) -> Result<Option<PersonRecord>> {
        let kept = &self.kept;
        let (read_in, found) = kept.callers.get(&key_hash.to_string());
        if found.is_some() {
            return Ok(found);
        }
        let read = self.read_person_by_key_hash(key_hash).await?;
        // Only callers found are kept: a key made since (even by another
        // command on the same file) is never refused from memory.
        if let Some(p) = &read {
            kept.callers.keep(read_in, key_hash.to_string(), p.clone());
        }
        Ok(read)
    }
}

impl SqlStore {
    async fn read_person_by_key_hash(&self, key_hash: &str) -> Result<Option<PersonRecord>> {
        let cols = PERSON_COLS
            .split(", ")
            .map(|c| format!("p.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut q = Sql::new(&format!(
            "SELECT {cols} FROM app_keys k JOIN people p ON p.id = k.person_id WHERE p.active = 1 AND k.key_hash = "
        ));
        q.text(key_hash);
        let row: Option<PersonRow> = q.query_as().fetch_optional(&self.read).await?;
        row.map(PersonRow::into_record).transpose()
    }
}
