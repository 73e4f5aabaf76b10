//! What Linux says about the server process and the machine: /proc, `sysconf`, `setrlimit`.

use std::io;
use std::path::Path;

use protocol::MachineInfo;

/// Resident memory of `pid`, from `VmRSS` in /proc/PID/status.
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS line"))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.trim_start_matches("VmRSS:").split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

/// User plus system CPU time `pid` has used, in seconds, from /proc/PID/stat.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_stat_ticks(&stat).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad stat"))?;
    // SAFETY: sysconf only reads a constant of the C library.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if per_second <= 0 {
        return Err(io::Error::other("sysconf(_SC_CLK_TCK) failed"));
    }
    Ok(ticks as f64 / per_second as f64)
}

/// `utime + stime` (fields 14 and 15). The command name (field 2) may hold spaces and parentheses, so counting
/// starts after its last `)`.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards, so utime is the 12th of these and stime the 13th.
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Raises the open-files soft limit to the hard limit: each client is a socket, and the default soft limit (often
/// 1024) would stop the run long before 10,000 clients. Returns the limit now in force.
pub fn raise_open_files_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: both calls only read or write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(limit.rlim_cur)
}

/// This machine, as far as /proc tells; unknown parts stay empty or zero rather than failing the report.
pub fn machine_info() -> MachineInfo {
    let read = |path: &str| std::fs::read_to_string(Path::new(path)).unwrap_or_default();
    MachineInfo {
        cpu_model: parse_cpu_model(&read("/proc/cpuinfo")).unwrap_or_default(),
        cores: std::thread::available_parallelism().map(|cores| cores.get() as u32).unwrap_or(0),
        memory_bytes: parse_mem_total(&read("/proc/meminfo")).unwrap_or(0),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
    }
}

fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    let line = cpuinfo.lines().find(|line| line.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.trim_start_matches("MemTotal:").split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_cpu_ticks() {
        assert_eq!(parse_vm_rss("Name:\tserver\nVmPeak:\t  9 kB\nVmRSS:\t   12345 kB\n"), Some(12345 * 1024));
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 2190 0 0 0 150 35 0 0 20 0 9 0 123 456 789";
        assert_eq!(parse_stat_ticks(stat), Some(185));
    }

    #[test]
    fn reads_this_process_and_machine() {
        let pid = std::process::id();
        assert!(rss_bytes(pid).unwrap() > 0);
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        let machine = machine_info();
        assert!(machine.cores >= 1 && machine.memory_bytes > 0 && !machine.kernel.is_empty());
        assert_eq!(
            parse_cpu_model("processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\n").as_deref(),
            Some("Some CPU @ 2.0GHz")
        );
    }
}
