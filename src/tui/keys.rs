//! The one key table. It drives key handling, the footer hints and the `?` help overlay, so the
//! three can never disagree.

use crate::monitor::StatusFilter;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for. The view decides what it means in the current focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    FocusNext,
    FocusPrev,
    Enter,
    Back,
    OlderRun,
    NewerRun,
    NextFailure,
    PreviousFailure,
    Sort,
    Filter(StatusFilter),
    Search,
    ToggleFollow,
    Open,
    Copy,
    Hide,
    ShowHidden,
    Help,
    Quit,
}

/// A key as the table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Ctrl(char),
    Code(KeyCode),
}

impl Key {
    fn matches(self, event: &KeyEvent) -> bool {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Key::Char(c) => !ctrl && event.code == KeyCode::Char(c),
            Key::Ctrl(c) => ctrl && event.code == KeyCode::Char(c),
            Key::Code(code) => event.code == code,
        }
    }
}

/// One row of the table: the keys, how the help overlay and footer name them, and what they do.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    /// How the keys are written for people, e.g. `j/k`.
    pub label: &'static str,
    pub help: &'static str,
    /// Shown in the footer as (keys, what), when set.
    pub footer: Option<(&'static str, &'static str)>,
    pub section: Section,
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Move,
    Panes,
    Filter,
    Act,
}

impl Section {
    pub const ALL: [Section; 4] = [Section::Move, Section::Panes, Section::Filter, Section::Act];

    pub fn title(self) -> &'static str {
        match self {
            Section::Move => "Move",
            Section::Panes => "Panes and runs",
            Section::Filter => "Filter and search",
            Section::Act => "Act",
        }
    }
}

use Key::{Char, Code, Ctrl};

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[Char('j'), Code(KeyCode::Down)],
        label: "j/↓",
        help: "move down",
        footer: None,
        section: Section::Move,
        action: Action::Down,
    },
    Binding {
        keys: &[Char('k'), Code(KeyCode::Up)],
        label: "k/↑",
        help: "move up",
        footer: Some(("j/k", "move")),
        section: Section::Move,
        action: Action::Up,
    },
    Binding {
        keys: &[Code(KeyCode::PageDown), Ctrl('d')],
        label: "PgDn/^d",
        help: "page down",
        footer: None,
        section: Section::Move,
        action: Action::PageDown,
    },
    Binding {
        keys: &[Code(KeyCode::PageUp), Ctrl('u')],
        label: "PgUp/^u",
        help: "page up",
        footer: None,
        section: Section::Move,
        action: Action::PageUp,
    },
    Binding {
        keys: &[Char('g'), Code(KeyCode::Home)],
        label: "g/Home",
        help: "go to the top",
        footer: None,
        section: Section::Move,
        action: Action::Top,
    },
    Binding {
        keys: &[Char('G'), Code(KeyCode::End)],
        label: "G/End",
        help: "go to the bottom; in the log: follow",
        footer: None,
        section: Section::Move,
        action: Action::Bottom,
    },
    Binding {
        keys: &[Code(KeyCode::Tab)],
        label: "Tab",
        help: "next pane",
        footer: Some(("Tab", "pane")),
        section: Section::Panes,
        action: Action::FocusNext,
    },
    Binding {
        keys: &[Code(KeyCode::BackTab)],
        label: "S-Tab",
        help: "previous pane",
        footer: None,
        section: Section::Panes,
        action: Action::FocusPrev,
    },
    Binding {
        keys: &[Code(KeyCode::Enter), Char('l'), Code(KeyCode::Right)],
        label: "Enter/l/→",
        help: "drill in: pipeline → jobs → detail; log: its job",
        footer: Some(("Enter", "open")),
        section: Section::Panes,
        action: Action::Enter,
    },
    Binding {
        keys: &[Code(KeyCode::Esc), Char('h'), Code(KeyCode::Left)],
        label: "Esc/h/←",
        help: "back, close help, clear the search",
        footer: None,
        section: Section::Panes,
        action: Action::Back,
    },
    Binding {
        keys: &[Char('[')],
        label: "[",
        help: "older run of the pipeline",
        footer: None,
        section: Section::Panes,
        action: Action::OlderRun,
    },
    Binding {
        keys: &[Char(']')],
        label: "]",
        help: "newer run of the pipeline",
        footer: Some(("[ ]", "runs")),
        section: Section::Panes,
        action: Action::NewerRun,
    },
    Binding {
        keys: &[Char('n')],
        label: "n",
        help: "next failed job, across pipelines",
        footer: None,
        section: Section::Panes,
        action: Action::NextFailure,
    },
    Binding {
        keys: &[Char('N')],
        label: "N",
        help: "previous failed job",
        footer: Some(("n/N", "failures")),
        section: Section::Panes,
        action: Action::PreviousFailure,
    },
    Binding {
        keys: &[Char('S')],
        label: "S",
        help: "sort: recent, failed first, name, duration",
        footer: None,
        section: Section::Filter,
        action: Action::Sort,
    },
    Binding {
        keys: &[Char('0')],
        label: "0",
        help: "show everything",
        footer: None,
        section: Section::Filter,
        action: Action::Filter(StatusFilter::All),
    },
    Binding {
        keys: &[Char('1')],
        label: "1",
        help: "only failed (FAIL)",
        footer: None,
        section: Section::Filter,
        action: Action::Filter(StatusFilter::Failed),
    },
    Binding {
        keys: &[Char('2')],
        label: "2",
        help: "only succeeded (SUCC)",
        footer: None,
        section: Section::Filter,
        action: Action::Filter(StatusFilter::Success),
    },
    Binding {
        keys: &[Char('3')],
        label: "3",
        help: "only cancelled (CANCEL)",
        footer: None,
        section: Section::Filter,
        action: Action::Filter(StatusFilter::Cancelled),
    },
    Binding {
        keys: &[Char('4')],
        label: "4",
        help: "only skipped (SKIP)",
        footer: None,
        section: Section::Filter,
        action: Action::Filter(StatusFilter::Skipped),
    },
    Binding {
        keys: &[Char('5')],
        label: "5",
        help: "the rest: running, waiting, unknown",
        footer: Some(("0-5", "filter")),
        section: Section::Filter,
        action: Action::Filter(StatusFilter::Other),
    },
    Binding {
        keys: &[Char('/')],
        label: "/",
        help: "search names, repos, branches, commits",
        footer: Some(("/", "search")),
        section: Section::Filter,
        action: Action::Search,
    },
    Binding {
        keys: &[Char('s')],
        label: "s",
        help: "follow the event log, or pause it",
        footer: None,
        section: Section::Act,
        action: Action::ToggleFollow,
    },
    Binding {
        keys: &[Char('o')],
        label: "o",
        help: "open the job's pipelineUrl in a browser",
        footer: None,
        section: Section::Act,
        action: Action::Open,
    },
    Binding {
        keys: &[Char('y')],
        label: "y",
        help: "copy the URL, commit, branch or detail (OSC 52)",
        footer: None,
        section: Section::Act,
        action: Action::Copy,
    },
    Binding {
        keys: &[Char('x')],
        label: "x",
        help: "hide the pipeline until its next delivery",
        footer: None,
        section: Section::Act,
        action: Action::Hide,
    },
    Binding {
        keys: &[Char('X')],
        label: "X",
        help: "show hidden pipelines again",
        footer: None,
        section: Section::Act,
        action: Action::ShowHidden,
    },
    Binding {
        keys: &[Char('?'), Code(KeyCode::F(1))],
        label: "?/F1",
        help: "this help",
        footer: Some(("?", "help")),
        section: Section::Act,
        action: Action::Help,
    },
    Binding {
        keys: &[Char('q'), Ctrl('c')],
        label: "q/Ctrl-C",
        help: "quit",
        footer: Some(("q", "quit")),
        section: Section::Act,
        action: Action::Quit,
    },
];

/// The action a key asks for, if the table has one.
pub fn action(event: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(event)))
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_map_to_their_actions() {
        assert_eq!(action(&key(KeyCode::Char('j'))), Some(Action::Down));
        assert_eq!(action(&key(KeyCode::Up)), Some(Action::Up));
        assert_eq!(
            action(&key(KeyCode::Char('1'))),
            Some(Action::Filter(StatusFilter::Failed))
        );
        assert_eq!(action(&key(KeyCode::F(1))), Some(Action::Help));
        assert_eq!(
            action(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action(&key(KeyCode::Char('c'))), None);
        assert_eq!(
            action(&KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
    }

    /// The keys a label names: `j/↓` is two, `/` is the one key `/`.
    fn label_keys(binding: &Binding) -> Vec<&'static str> {
        match binding.label {
            "/" => vec!["/"],
            label => label.split('/').collect(),
        }
    }

    #[test]
    fn the_readme_names_every_key_in_the_table() {
        let readme = include_str!("../../README.md");
        for binding in BINDINGS {
            for key in label_keys(binding) {
                assert!(
                    readme.contains(&format!("`{key}`")),
                    "README.md does not mention `{key}` ({})",
                    binding.help
                );
            }
        }
    }

    /// The help overlay shows each binding's label, so the label names every key it binds.
    #[test]
    fn every_bound_key_is_named_in_its_label() {
        for binding in BINDINGS {
            assert_eq!(
                label_keys(binding).len(),
                binding.keys.len(),
                "{} names {} keys",
                binding.label,
                binding.keys.len()
            );
        }
    }

    #[test]
    fn no_key_is_bound_twice() {
        let all: Vec<Key> = BINDINGS
            .iter()
            .flat_map(|b| b.keys.iter().copied())
            .collect();
        for (i, a) in all.iter().enumerate() {
            assert!(!all[i + 1..].contains(a), "{a:?} is bound twice");
        }
    }
}
