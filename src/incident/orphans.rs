//! What a new configuration would leave without anyone: open incidents
//! whose project it no longer has (no policy, no people: their next step
//! would page nobody) or whose assignee it no longer has (nobody reminded,
//! nobody to hand it on). A reload that would orphan one is refused, with
//! what to do first, so no incident goes quiet because a file changed.

use std::collections::BTreeMap;

use super::model::{Incident, State};
use crate::config::Roster;

/// Whether a reload must look after `inc`: paging, held by a maintenance
/// window (it pages when the window ends), or acknowledged.
pub fn watched(inc: &Incident) -> bool {
    matches!(
        inc.state,
        State::Triggered | State::Acknowledged | State::Suppressed
    )
}

/// One line per problem `new` would leave among `open`; empty when it
/// leaves none. Only what `running` has and `new` lacks counts: an incident
/// already without its project (the daemon restarted without it) does not
/// block every later reload, an urgent number fix among them.
pub fn orphaned(running: &Roster, new: &Roster, open: &[Incident]) -> Vec<String> {
    let removed_project =
        |p: &String| running.projects.contains_key(p) && !new.projects.contains_key(p);
    let removed_person = |p: &str| running.people.contains_key(p) && !new.people.contains_key(p);
    let mut projects: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut holders: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for inc in open.iter().filter(|i| watched(i)) {
        if removed_project(&inc.project) {
            projects.entry(&inc.project).or_default().push(inc.id);
        } else if let Some(p) = inc.assignee.as_deref()
            && removed_person(p)
        {
            holders.entry(p).or_default().push(inc.id);
        }
    }
    let mut lines: Vec<String> = projects
        .into_iter()
        .map(|(project, ids)| {
            format!(
                "project {project:?} is removed but {} open on it; resolve {} first, or keep the project until then",
                numbered(&ids),
                if ids.len() == 1 { "it" } else { "them" }
            )
        })
        .collect();
    lines.extend(holders.into_iter().map(|(person, ids)| {
        let them = if ids.len() == 1 { "it" } else { "them" };
        format!(
            "person {person:?} is removed but {} assigned to them; hand {them} on first (tocsin incidents assign {} PERSON) or resolve {them}",
            numbered(&ids),
            ids[0],
        )
    }));
    lines
}

/// `incident #3 is` / `incidents #3, #7 are` (the first 10, then a count).
fn numbered(ids: &[i64]) -> String {
    let shown: Vec<String> = ids.iter().take(10).map(|i| format!("#{i}")).collect();
    let more = ids.len().saturating_sub(10);
    let list = if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    };
    if ids.len() == 1 {
        format!("incident {list} is")
    } else {
        format!("incidents {list} are")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_listed_then_counted() {
        assert_eq!(numbered(&[3]), "incident #3 is");
        assert_eq!(numbered(&[3, 7]), "incidents #3, #7 are");
        let many: Vec<i64> = (1..=12).collect();
        assert_eq!(
            numbered(&many),
            "incidents #1, #2, #3, #4, #5, #6, #7, #8, #9, #10 and 2 more are"
        );
    }
}
