//! The statements the background session runs (sql/runtime/), each prepared once per
//! connection. One list defines the variants, their SQL and the size of the table of
//! prepared statements, so the three cannot drift apart.

macro_rules! queries {
    ($($(#[$doc:meta])* $variant:ident => $text:expr,)+) => {
        #[derive(Clone, Copy, Debug)]
        pub enum Query {
            $($(#[$doc])* $variant,)+
        }

        impl Query {
            /// How many statements there are: the size of a session's prepared table,
            /// indexed by `query as usize`.
            pub(super) const COUNT: usize = [$(Query::$variant),+].len();

            /// The statement's SQL, `@extschema@` still to be replaced.
            pub(super) fn text(self) -> &'static str {
                match self {
                    $(Query::$variant => $text,)+
                }
            }
        }
    };
}

queries! {
    AddJob => include_str!("../../../sql/runtime/add_job.sql"),
    AddStep => include_str!("../../../sql/runtime/add_step.sql"),
    UpdateStep => include_str!("../../../sql/runtime/update_step.sql"),
    EndJobCode => include_str!("../../../sql/runtime/end_job_code.sql"),
    EndJobDiagnose => include_str!("../../../sql/runtime/end_job_diagnose.sql"),
    EndJobText => include_str!("../../../sql/runtime/end_job_text.sql"),
    /// One batch of job_log_clear.
    ClearBatch => include_str!("../../../sql/runtime/clear_batch.sql"),
    /// Sent before a call only when the caller's role changed.
    SetRole => include_str!("../../../sql/runtime/set_role.sql"),
    /// Sent before a call only when jobmon.lock_timeout changed.
    SetLockTimeout => include_str!("../../../sql/runtime/set_lock_timeout.sql"),
}
