//! The words the WIT enums are written as in JSON and on the wire, one place for
//! every component: `severity` as `"high"`, a ticket state as `"open"`.

use crate::types::{Severity, TicketState};

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl TicketState {
    /// `open`, `closed`, or the ticket system's own word.
    pub fn as_str(&self) -> &str {
        match self {
            TicketState::Open => "open",
            TicketState::Closed => "closed",
            TicketState::Other(s) => s,
        }
    }

    /// Reads a ticket system's state word: `open`/`opened`/`reopened` and
    /// `closed` (any case) are the host's two states; anything else is kept as `other`.
    pub fn from_word(word: &str) -> TicketState {
        let w = word.trim();
        if ["open", "opened", "reopened"].iter().any(|o| w.eq_ignore_ascii_case(o)) {
            TicketState::Open
        } else if w.eq_ignore_ascii_case("closed") {
            TicketState::Closed
        } else {
            TicketState::Other(w.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_words_round_trip() {
        for s in [TicketState::Open, TicketState::Closed, TicketState::Other("resolved".into())] {
            assert_eq!(TicketState::from_word(s.as_str()), s);
        }
        assert_eq!(TicketState::from_word("Reopened"), TicketState::Open);
        assert_eq!(Severity::Critical.as_str(), "critical");
    }
}
