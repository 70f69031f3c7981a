//! The incident state machine: which action is legal from which state.
//! Pure; the caller records the change and its timeline event.

use super::model::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Resolve,
    Downgrade,
    /// A resolved incident whose alert fires again within the flap window.
    Reopen,
    /// An acknowledgement that timed out (policy `ack_timeout`).
    Unacknowledge,
    /// Someone asked for the next step: it must take the incident, so an
    /// acknowledged one is triggered again (paging runs only while triggered).
    Escalate,
    /// The maintenance window of a suppressed incident ended while its
    /// alerts still fire.
    EndMaintenance,
}

/// The outcome of applying an action to a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The state changes to this.
    To(State),
    /// Already there; repeating the action changes nothing (200, not 409).
    Unchanged,
}

/// `Err(current)` when the action is illegal from `from` (HTTP 409).
pub fn apply(from: State, action: Action) -> Result<Transition, State> {
    use Action::*;
    use State::*;
    match (from, action) {
        (Triggered, Acknowledge) => Ok(Transition::To(Acknowledged)),
        (Acknowledged, Acknowledge) => Ok(Transition::Unchanged),
        (Triggered | Acknowledged | Downgraded | Suppressed, Resolve) => {
            Ok(Transition::To(Resolved))
        }
        // Nobody was paged, so there is nothing to take; a suppressed
        // incident can be resolved, or downgraded so that it never pages.
        (Triggered | Acknowledged | Suppressed, Downgrade) => Ok(Transition::To(Downgraded)),
        (Suppressed, EndMaintenance) => Ok(Transition::To(Triggered)),
        (Downgraded, Downgrade) => Ok(Transition::Unchanged),
        (Resolved, Reopen) => Ok(Transition::To(Triggered)),
        (Acknowledged, Unacknowledge | Escalate) => Ok(Transition::To(Triggered)),
        (Triggered, Escalate) => Ok(Transition::Unchanged),
        (current, _) => Err(current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use State::*;

    fn check(from: State, action: Action, expected: Result<Transition, State>) {
        assert_eq!(apply(from, action), expected, "{from:?} + {action:?}");
    }

    #[test]
    fn legal_and_illegal_transitions() {
        check(Triggered, Acknowledge, Ok(Transition::To(Acknowledged)));
        check(Acknowledged, Acknowledge, Ok(Transition::Unchanged));
        check(Resolved, Acknowledge, Err(Resolved));
        check(Downgraded, Acknowledge, Err(Downgraded));
        check(Triggered, Resolve, Ok(Transition::To(Resolved)));
        check(Acknowledged, Resolve, Ok(Transition::To(Resolved)));
        check(Downgraded, Resolve, Ok(Transition::To(Resolved)));
        check(Resolved, Resolve, Err(Resolved));
        check(Triggered, Downgrade, Ok(Transition::To(Downgraded)));
        check(Acknowledged, Downgrade, Ok(Transition::To(Downgraded)));
        check(Downgraded, Downgrade, Ok(Transition::Unchanged));
        check(Resolved, Downgrade, Err(Resolved));
        check(Resolved, Reopen, Ok(Transition::To(Triggered)));
        check(Triggered, Reopen, Err(Triggered));
        check(Acknowledged, Unacknowledge, Ok(Transition::To(Triggered)));
        check(Triggered, Unacknowledge, Err(Triggered));
        check(Acknowledged, Escalate, Ok(Transition::To(Triggered)));
        check(Triggered, Escalate, Ok(Transition::Unchanged));
        check(Resolved, Escalate, Err(Resolved));
        check(Downgraded, Escalate, Err(Downgraded));
        check(Suppressed, Escalate, Err(Suppressed));
        check(Suppressed, Acknowledge, Err(Suppressed));
        check(Suppressed, Resolve, Ok(Transition::To(Resolved)));
        check(Suppressed, Downgrade, Ok(Transition::To(Downgraded)));
        check(Suppressed, EndMaintenance, Ok(Transition::To(Triggered)));
        check(Triggered, EndMaintenance, Err(Triggered));
        check(Resolved, EndMaintenance, Err(Resolved));
    }
}
