//! What the terminal gets: colours (`--color=auto|always|never`; `auto` means standard error
//! is a terminal, `NO_COLOR` is unset or empty and `TERM` is not `dumb`) and animations
//! (spinners and progress bars: only on a terminal, and never with `NO_COLOR` or `TERM=dumb`).

use clap::ValueEnum;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// Colours on a terminal unless `NO_COLOR` or `TERM=dumb`.
    #[default]
    Auto,
    /// Always colours.
    Always,
    /// Never colours.
    Never,
}

/// Whether `NO_COLOR` is set to something (the no-color.org rule) or `TERM` is `dumb`.
fn plain_terminal() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    no_color || dumb
}

/// Whether errors and hints get colours.
pub fn colors(choice: ColorChoice, tty_err: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty_err && !plain_terminal(),
    }
}

/// Whether spinners and progress bars are drawn.
pub fn animations(tty_err: bool) -> bool {
    tty_err && !plain_terminal()
}
