//! The lab's own headers, named once for the server that sets them and the page that reads them.

/// The server run that answered, on every response, streams included.
pub const EPOCH: &str = "x-lab-epoch";
/// The HTTP exchange a response belongs to: the key to the bytes the server measured for it.
pub const EXCHANGE: &str = "x-lab-exchange";
/// The instance that answered, when several share one log (`--backplane`).
pub const INSTANCE: &str = "x-lab-instance";
/// Why this instance cannot reach the shared log now; absent while it can (and always, in one process). Every
/// response carries it, so a page learns of an outage from its next request, whichever lane made it.
pub const LOG_PROBLEM: &str = "x-lab-log-problem";
/// A request header: the teacher's key, for programs (a browser uses the cookie the teacher link sets).
pub const TEACHER_KEY: &str = "x-lab-teacher";

/// The values of the cookies named `name` in a `Cookie` header (`a=1; b=2`): the theme and the teacher's key are
/// read from it with the same rule, on the server and in the page.
pub fn cookie_values<'a>(header: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(found, _)| *found == name)
        .map(|(_, value)| value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_their_whole_name() {
        let header = "lab_theme=dark; lab_teacher=k1;lab_teacherx=k2;  lab_teacher=k3 ";
        assert_eq!(cookie_values(header, "lab_teacher").collect::<Vec<_>>(), ["k1", "k3"]);
        assert_eq!(cookie_values(header, "lab_theme").next(), Some("dark"));
        assert_eq!(cookie_values("", "lab_theme").next(), None);
    }
}
