-- /alert-event/list reads raw events by time across alerts.
CREATE INDEX alert_events_created ON alert_events(created_at);
