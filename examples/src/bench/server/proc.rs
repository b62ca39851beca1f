//! What the kernel says of a server child: its CPU time and memory, read from `/proc`.

use std::time::Duration;

/// CPU time a process has used (user and system, its ended threads included), from fields 14
/// and 15 of `/proc/<pid>/stat`, counted in the kernel's user-visible ticks of 1/100 s.
pub fn parse_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A process's memory, from the `VmRSS` and `VmHWM` lines of `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident memory now, in bytes.
    pub rss: u64,
    /// The most resident memory the process has had, in bytes, where the kernel reports it.
    pub peak: Option<u64>,
}

impl Memory {
    /// Reads the two lines of a `status` file (values in kB); `None` without `VmRSS`.
    pub fn parse(status: &str) -> Option<Memory> {
        let kb = |name: &str| {
            status.lines().find_map(|l| {
                let rest = l.strip_prefix(name)?.trim();
                let n: u64 = rest.strip_suffix("kB").unwrap_or(rest).trim().parse().ok()?;
                Some(n * 1024)
            })
        };
        Some(Memory { rss: kb("VmRSS:")?, peak: kb("VmHWM:") })
    }

    /// The memory of several processes together: resident memory summed, and the sum of their
    /// peaks (an upper bound: they need not have peaked at once), known only if every peak is.
    pub fn sum(all: impl IntoIterator<Item = Memory>) -> Memory {
        let mut total = Memory { rss: 0, peak: Some(0) };
        for m in all {
            total.rss += m.rss;
            total.peak = total.peak.zip(m.peak).map(|(a, b)| a + b);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_peak_from_proc_status() {
        let status = "Name:\tbench\nVmPeak:\t  900 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n";
        let m = Memory::parse(status);
        assert_eq!(m, Some(Memory { rss: 1024 * 1024, peak: Some(2048 * 1024) }));
        assert_eq!(Memory::parse("VmRSS:\t 7 kB\n"), Some(Memory { rss: 7168, peak: None }));
        assert_eq!(Memory::parse("Name:\tx\n"), None);
        let stat = "42 (bench serve) S 1 42 42 0 -1 4194560 900 0 0 0 250 31 0 0 20 0 9 0 77";
        assert_eq!(parse_cpu(stat), Some(Duration::from_millis(2810)));
        assert_eq!(parse_cpu("42 (x) S 1"), None);
        let own = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        if !own.is_empty() {
            assert!(Memory::parse(&own).is_some_and(|m| m.rss > 0), "{own}");
        }
    }

    #[test]
    fn several_processes_add_up() {
        let a = Memory { rss: 10, peak: Some(30) };
        let b = Memory { rss: 5, peak: Some(7) };
        assert_eq!(Memory::sum([a, b]), Memory { rss: 15, peak: Some(37) });
        let unknown = Memory { rss: 1, peak: None };
        assert_eq!(Memory::sum([a, unknown]), Memory { rss: 11, peak: None });
    }
}
