//! The loopback floor from `sockperf ping-pong`'s summary. sockperf prints half round trips in microseconds:
//!
//! ```text
//! sockperf: ---> <MAX> observation =   61.374
//! sockperf: ---> percentile 99.000 =   19.512
//! sockperf: ---> percentile 50.000 =   11.030
//! ```
//!
//! Other lines, spacing and versions vary, so only these three are looked for, wherever they are.

use protocol::LoopbackFloor;

pub fn parse(text: &str) -> Option<LoopbackFloor> {
    let (mut p50, mut p99, mut max) = (None, None, None);
    for line in text.lines() {
        let Some((_, summary)) = line.split_once("--->") else { continue };
        let Some((label, value)) = summary.split_once('=') else { continue };
        let Some(value) = value.split_whitespace().next().and_then(|value| value.parse::<f64>().ok()) else {
            continue;
        };
        let label = label.trim();
        if label.starts_with("<MAX>") {
            max = Some(value);
        } else if let Some(percentile) = label.strip_prefix("percentile").and_then(|p| p.trim().parse::<f64>().ok()) {
            if percentile == 99.0 {
                p99 = Some(value);
            } else if percentile == 50.0 {
                p50 = Some(value);
            }
        }
    }
    Some(LoopbackFloor { tool: "sockperf ping-pong".into(), p50_us: p50?, p99_us: p99?, max_us: max? })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "\
sockperf: == version #3.10-no.git ==
sockperf[CLIENT] send on:sockperf: using recvfrom() to block on socket(s)
sockperf: Summary: Latency is 11.513 usec
sockperf: Total 86446 observations; each percentile contains 864.46 observations
sockperf: ---> <MAX> observation =   61.374
sockperf: ---> percentile 99.999 =   58.150
sockperf: ---> percentile 99.990 =   35.020
sockperf: ---> percentile 99.900 =   23.861
sockperf: ---> percentile 99.000 =   19.512
sockperf: ---> percentile 90.000 =   13.310
sockperf: ---> percentile 75.000 =   12.040
sockperf: ---> percentile 50.000 =   11.030
sockperf: ---> percentile 25.000 =   10.590
sockperf: ---> <MIN> observation =    9.120
";

    #[test]
    fn reads_median_p99_and_max() {
        let floor = parse(OUTPUT).unwrap();
        assert_eq!((floor.p50_us, floor.p99_us, floor.max_us), (11.030, 19.512, 61.374));
    }

    #[test]
    fn tolerates_other_spacing_and_refuses_incomplete_output() {
        let terse = "---> percentile 50.0 = 4.5\n--->percentile 99 =7\n---> <MAX> observation=9 usec\n";
        let floor = parse(terse).unwrap();
        assert_eq!((floor.p50_us, floor.p99_us, floor.max_us), (4.5, 7.0, 9.0));
        assert!(parse("sockperf: ERROR: connection refused").is_none());
    }
}
