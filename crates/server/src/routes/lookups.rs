//! Batch lookups the hosted product's clients make to name the people,
//! teams and channels an incident refers to (`/person/infos`,
//! `/team/infos`, `/channel/infos`), and its member directory
//! (`/member/list`), in the product's shapes.

use axum::extract::State;
use dutyhook_domain::ids::{ChannelId, PersonId};
use dutyhook_domain::person::Role;
use dutyhook_store::{Page, PersonRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::choices::{blank_is_none, TimeOrder};
use super::{Paging, TAG_PEOPLE};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// Ids one lookup may name; a page of incidents names far fewer.
const MAX_IDS: usize = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(person_infos))
        .routes(routes!(team_infos))
        .routes(routes!(channel_infos))
        .routes(routes!(member_list))
}

/// Distinct positive ids, at most [`MAX_IDS`]; unknown ones are left out of
/// the answer, as the hosted product does.
fn lookup_ids(field: &str, ids: &[i64]) -> Result<Vec<i64>, ApiError> {
    if ids.len() > MAX_IDS {
        return Err(ApiError::invalid(
            field,
            format!("must list at most {MAX_IDS} ids, got {}", ids.len()),
        ));
    }
    let mut out: Vec<i64> = vec![];
    for &id in ids {
        if id <= 0 {
            return Err(ApiError::invalid(
                field,
                format!("must list positive ids, got {id}"),
            ));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[derive(Deserialize, ToSchema)]
pub struct PersonIds {
    pub person_ids: Vec<i64>,
}

/// A person as the hosted product's `/person/infos` answers it. Fields
/// dutyhook does not keep (avatar, phone, locale) are empty.
#[derive(Serialize, ToSchema)]
pub struct PersonBrief {
    pub account_id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub email: String,
    pub avatar: String,
    pub locale: String,
    pub time_zone: String,
    pub phone: String,
    pub phone_verified: bool,
    pub email_verified: bool,
    /// `account` for admins, `member` otherwise.
    #[serde(rename = "as")]
    pub login_as: String,
    /// Always `enabled`.
    pub status: String,
    /// dutyhook's role: `admin`, `member` or `viewer`.
    pub role: Role,
}

fn login_as(role: Role) -> String {
    match role {
        Role::Admin => "account",
        _ => "member",
    }
    .into()
}

#[derive(Serialize, ToSchema)]
pub struct Items<T: ToSchema> {
    pub items: Vec<T>,
}

#[utoipa::path(post, path = "/person/infos", tag = TAG_PEOPLE, request_body = PersonIds,
    responses((status = 200, body = Envelope<Items<PersonBrief>>), (status = "4XX", body = ErrorEnvelope)))]
async fn person_infos(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<PersonIds>,
) -> ApiResult<Items<PersonBrief>> {
    let mut people = vec![];
    for id in lookup_ids("person_ids", &req.person_ids)? {
        people.extend(app.store.person(PersonId(id)).await?);
    }
    let account_id = app.render.account_id;
    let items = people
        .into_iter()
        .map(|p| PersonBrief {
            account_id,
            person_id: p.person.person_id.0,
            person_name: p.person.person_name,
            email: p.person.email,
            avatar: String::new(),
            locale: String::new(),
            time_zone: String::new(),
            phone: String::new(),
            phone_verified: false,
            email_verified: false,
            login_as: login_as(p.role),
            status: "enabled".into(),
            role: p.role,
        })
        .collect();
    ok(Items { items })
}

#[derive(Deserialize, ToSchema)]
pub struct TeamIds {
    pub team_ids: Vec<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TeamBrief {
    pub team_id: i64,
    pub team_name: String,
    #[schema(value_type = Vec<i64>)]
    pub person_ids: Vec<PersonId>,
}

#[utoipa::path(post, path = "/team/infos", tag = TAG_PEOPLE, request_body = TeamIds,
    responses((status = 200, body = Envelope<Items<TeamBrief>>), (status = "4XX", body = ErrorEnvelope)))]
async fn team_infos(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<TeamIds>,
) -> ApiResult<Items<TeamBrief>> {
    let mut items = vec![];
    for id in lookup_ids("team_ids", &req.team_ids)? {
        if let Some(t) = app.store.team(id).await? {
            items.push(TeamBrief {
                team_id: t.team_id,
                team_name: t.team_name,
                person_ids: t.person_ids,
            });
        }
    }
    ok(Items { items })
}

#[derive(Deserialize, ToSchema)]
pub struct ChannelIds {
    pub channel_ids: Vec<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelBrief {
    pub channel_id: i64,
    pub channel_name: String,
    pub team_id: i64,
    /// Always `enabled`.
    pub status: String,
    /// 0: dutyhook does not record who made a channel.
    pub creator_id: i64,
}

#[utoipa::path(post, path = "/channel/infos", tag = TAG_PEOPLE, request_body = ChannelIds,
    responses((status = 200, body = Envelope<Items<ChannelBrief>>), (status = "4XX", body = ErrorEnvelope)))]
async fn channel_infos(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<ChannelIds>,
) -> ApiResult<Items<ChannelBrief>> {
    let mut items = vec![];
    for id in lookup_ids("channel_ids", &req.channel_ids)? {
        if let Some(c) = app.store.channel(ChannelId(id)).await? {
            items.push(ChannelBrief {
                channel_id: c.channel_id.0,
                channel_name: c.channel_name,
                team_id: c.team_id,
                status: "enabled".into(),
                creator_id: 0,
            });
        }
    }
    ok(Items { items })
}

#[derive(Deserialize, ToSchema)]
pub struct MemberList {
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Text in the name or email, case-insensitive.
    pub query: Option<String>,
    /// `created_at` (default) or `updated_at`, which dutyhook keeps equal.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub orderby: Option<TimeOrder>,
    /// Oldest first when true.
    pub asc: Option<bool>,
    /// The hosted product's role ids; dutyhook has roles, not role ids, so
    /// any value is refused.
    pub role_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberItem {
    pub account_id: i64,
    pub member_id: i64,
    pub member_name: String,
    pub email: String,
    pub country_code: String,
    pub phone: String,
    pub locale: String,
    pub time_zone: String,
    pub phone_verified: bool,
    pub email_verified: bool,
    pub avatar: String,
    /// Always `enabled`.
    pub status: String,
    pub account_role_ids: Vec<i64>,
    pub is_external: bool,
    pub ref_id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// dutyhook's role: `admin`, `member` or `viewer`.
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct MemberPage {
    pub p: i64,
    pub limit: i64,
    pub total: i64,
    pub has_next_page: bool,
    pub items: Vec<MemberItem>,
}

/// Everyone, read a page of 100 at a time (a team's directory, not a
/// tenant's: filtering and ordering happen here).
async fn everyone(app: &AppState) -> Result<Vec<PersonRecord>, ApiError> {
    let mut all = vec![];
    for p in 1.. {
        let listing = app.store.list_people(Page { p, limit: 100 }).await?;
        let done = listing.items.len() < 100;
        all.extend(listing.items);
        if done {
            break;
        }
    }
    Ok(all)
}

#[utoipa::path(post, path = "/member/list", tag = TAG_PEOPLE, request_body = MemberList,
    responses((status = 200, body = Envelope<MemberPage>), (status = "4XX", body = ErrorEnvelope)))]
async fn member_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<MemberList>,
) -> ApiResult<MemberPage> {
    let page = Paging {
        p: req.p,
        limit: req.limit,
    }
    .page()?;
    if let Some(id) = req.role_id {
        return Err(ApiError::invalid(
            "role_id",
            format!("{id} is not supported: dutyhook has the roles admin, member and viewer, not role ids"),
        ));
    }
    // Either order is the same one: dutyhook keeps the two times equal.
    let (None | Some(TimeOrder::CreatedAt | TimeOrder::UpdatedAt)) = req.orderby;
    let query = req.query.as_deref().unwrap_or("").trim().to_lowercase();
    let mut people: Vec<PersonRecord> = everyone(&app)
        .await?
        .into_iter()
        .filter(|p| {
            query.is_empty()
                || p.person.person_name.to_lowercase().contains(&query)
                || p.person.email.to_lowercase().contains(&query)
        })
        .collect();
    people.sort_by_key(|p| (p.created_at, p.person.person_id.0));
    if !req.asc.unwrap_or(false) {
        people.reverse();
    }
    let total = people.len() as i64;
    let account_id = app.render.account_id;
    let items: Vec<MemberItem> = people
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.limit as usize)
        .map(|p| MemberItem {
            account_id,
            member_id: p.person.person_id.0,
            member_name: p.person.person_name,
            email: p.person.email,
            country_code: String::new(),
            phone: String::new(),
            locale: String::new(),
            time_zone: String::new(),
            phone_verified: false,
            email_verified: false,
            avatar: String::new(),
            status: "enabled".into(),
            account_role_ids: vec![],
            is_external: false,
            ref_id: String::new(),
            created_at: p.created_at,
            updated_at: p.created_at,
            role: p.role,
        })
        .collect();
    ok(MemberPage {
        p: page.p,
        limit: page.limit,
        total,
        has_next_page: page.offset() + (items.len() as i64) < total,
        items,
    })
}
