//! OpenMetrics text (what the metrics registry writes) rewritten as the
//! Prometheus text format 0.0.4, for scrapers and tools that ask for plain
//! text (`promtool check metrics`, older Prometheus, curl): a counter's
//! HELP and TYPE take the `_total` name its samples have, and the
//! OpenMetrics-only lines (`# UNIT`, `# EOF`) go.

/// The content type of [`to_prometheus_text`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            (counters.contains(&name) && !name.ends_with("_total"))
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(l.trim_end()),
            None => out.push_str(&line.replace(" unknown", " untyped")),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_take_their_samples_name_and_openmetrics_lines_go() {
        let om = "# HELP dutyhook_pushes Pushes made.\n# TYPE dutyhook_pushes counter\n\
                  dutyhook_pushes_total{kind=\"incident\"} 3\n\
                  # HELP dutyhook_pending Pending.\n# TYPE dutyhook_pending gauge\n\
                  # UNIT dutyhook_pending deliveries\ndutyhook_pending 0\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP dutyhook_pushes_total Pushes made.\n# TYPE dutyhook_pushes_total counter\n\
             dutyhook_pushes_total{kind=\"incident\"} 3\n\
             # HELP dutyhook_pending Pending.\n# TYPE dutyhook_pending gauge\ndutyhook_pending 0\n"
        );
    }
}
