//! The words the WIT enums are written as in JSON and on the wire, one place for
//! every component: `severity` as `"high"`, a ticket state as `"open"`.

use crate::types::{Severity, TicketAction, TicketState};

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

impl TicketAction {
    /// `create`, `update`, `close` or `reopen`, as messages name the action.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketAction::Create => "create",
            TicketAction::Update => "update",
            TicketAction::Close => "close",
            TicketAction::Reopen => "reopen",
        }
    }
}

impl TicketState {
    /// The state `action` leaves a ticket in when the ticket system's answer does not
    /// say: closed after a close, open after anything else.
    pub fn after(action: TicketAction) -> TicketState {
        match action {
            TicketAction::Close => TicketState::Closed,
            TicketAction::Create | TicketAction::Update | TicketAction::Reopen => TicketState::Open,
        }
    }

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

    #[test]
    fn action_words_and_the_state_an_action_leaves() {
        let all = [TicketAction::Create, TicketAction::Update, TicketAction::Close, TicketAction::Reopen];
        assert_eq!(all.map(TicketAction::as_str), ["create", "update", "close", "reopen"]);
        assert_eq!(all.map(TicketState::after), [TicketState::Open, TicketState::Open, TicketState::Closed, TicketState::Open]);
    }
}
