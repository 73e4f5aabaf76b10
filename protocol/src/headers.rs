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
