//! The event log's words, one spelling each: what the store, the admin API,
//! the counts and the console read.

/// Where a delivery, or an event, stands (SPEC section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Attempts are still to come.
    Pending,
    Delivered,
    /// Retries spent: dead-lettered.
    Failed,
    /// An event no route took (never a delivery's status).
    Unrouted,
    /// A delivery not attempted while its route is paused or tripped (SPEC
    /// section 10), no retry spent; never an event's status: its event is
    /// pending, or failed if another delivery failed. As a filter of the list:
    /// events with a held delivery.
    Held,
}

impl Status {
    /// Every status, in the order the API names them.
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Delivered,
        Status::Failed,
        Status::Unrouted,
        Status::Held,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Unrouted => "unrouted",
            Self::Held => "held",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Not delivered; tried again later.
    Retry,
    /// Not delivered, and no more tries.
    Failed,
    /// A queue route's send before the answer.
    Sent,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry => "retry",
            Self::Failed => "failed",
            Self::Sent => "sent",
        }
    }

    /// The delivery's status after it.
    pub fn status(self) -> Status {
        match self {
            Self::Delivered | Self::Sent => Status::Delivered,
            Self::Retry => Status::Pending,
            Self::Failed => Status::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_reads_back_as_written() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("lost"), None);
        assert_eq!(Status::parse("Failed"), None);
        assert_eq!(Status::parse("held"), Some(Status::Held));
    }

    #[test]
    fn no_attempt_leaves_a_delivery_held() {
        // Only a held delivery's own record marks it; any attempt settles it.
        for outcome in [
            AttemptOutcome::Delivered,
            AttemptOutcome::Retry,
            AttemptOutcome::Failed,
            AttemptOutcome::Sent,
        ] {
            assert_ne!(outcome.status(), Status::Held, "{outcome:?}");
        }
    }
}
