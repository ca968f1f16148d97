-- A custom action's runs in the last hour, for its cooldown and hourly cap.
CREATE INDEX action_runs_action ON action_runs(action_id, created_ms);
