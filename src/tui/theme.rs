//! Colours, glyphs and styles. Every status has a glyph as well as a colour, so no meaning
//! depends on colour alone; with `NO_COLOR` or `--no-color` only bold, dim and reverse remain.
//! Only the sixteen named ANSI colours are used, which every terminal maps to something
//! readable on its own background, light or dark.

use crate::gitee::Status;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Theme {
        Theme { color }
    }

    /// Colour unless `--no-color` was given or `NO_COLOR` is set to anything non-empty.
    pub fn from_env(no_color_flag: bool) -> Theme {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme::new(!(no_color_flag || no_color_env))
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn status(self, status: Status) -> Style {
        match status {
            Status::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Status::Success => self.fg(Color::Green),
            Status::Running => self.fg(Color::Yellow),
            Status::Waiting => self.fg(Color::Blue),
            Status::Cancelling | Status::Cancelled => self.fg(Color::Magenta),
            Status::Skipped => self.dim(),
            Status::Unknown => self.fg(Color::Cyan),
        }
    }

    /// A pipeline row whose latest run failed: the whole row stands out.
    pub fn failed_row(self) -> Style {
        self.fg(Color::Red)
    }

    pub fn title(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn border(self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.dim()
        }
    }

    pub fn selected(self, focused: bool) -> Style {
        if focused {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn label(self) -> Style {
        self.dim()
    }

    pub fn dim(self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn warning(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }
}

/// A glyph per status that reads without colour.
pub fn glyph(status: Status) -> &'static str {
    match status {
        Status::Success => "✓",
        Status::Failed => "✗",
        Status::Cancelled => "⊘",
        Status::Cancelling => "⊘",
        Status::Skipped => "↷",
        Status::Running => "●",
        Status::Waiting => "◌",
        Status::Unknown => "?",
    }
}
