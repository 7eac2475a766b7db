//! Options of the shell's own commands: `--name VALUE` and `--name` switches anywhere among
//! the other words, which keep their order.

use std::collections::{BTreeMap, BTreeSet};

use crate::failure::Failure;
use crate::line::Word;

/// A shell command's words sorted out.
#[derive(Debug, Default)]
pub struct Opts {
    /// `--name VALUE` options.
    pub values: BTreeMap<String, String>,
    /// `--name` switches given.
    pub switches: BTreeSet<String>,
    /// Every other word, in order.
    pub rest: Vec<Word>,
}

impl Opts {
    /// Sorts `words`; an unknown `--flag` or a valued one without its value is a usage error
    /// showing `usage`.
    pub fn parse(
        words: &[Word],
        valued: &[&str],
        switches: &[&str],
        usage: &str,
    ) -> Result<Opts, Failure> {
        let bad = || Failure::Usage(format!("usage: {usage}"));
        let mut opts = Opts::default();
        let mut words = words.iter();
        while let Some(w) = words.next() {
            match w {
                Word::Flag(f) if valued.contains(&f.as_str()) => match words.next() {
                    Some(Word::Plain(v)) => {
                        opts.values.insert(f.clone(), v.clone());
                    }
                    _ => return Err(bad()),
                },
                Word::Flag(f) if switches.contains(&f.as_str()) => {
                    opts.switches.insert(f.clone());
                }
                Word::Flag(_) => return Err(bad()),
                other => opts.rest.push(other.clone()),
            }
        }
        Ok(opts)
    }

    /// The value of `--name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether `--name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.switches.contains(name)
    }
}
