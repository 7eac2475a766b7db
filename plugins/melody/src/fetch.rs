//! `melody.fetch` and `melody.list`: a caller's transcriptions and their files.
//!
//! `{"type":"melody.fetch","key":"…","format":"midi","page":1}` → `{key, format, file_name, page,
//! pages, file_size}` followed by
//! the MIDI file (`audio/midi`), the score (`format: "png"`) or the score as MusicXML 4.0
//! (`format: "musicxml"`, for notation editors). The PNG score comes in `pages` pages of at most
//! `--melody-max-score-px` pixels each; `page` past them is `bad_args`. A key the caller never asked for
//! is `not_found` (the same answer as an unknown key, so keys cannot be probed), unless the
//! caller is an admin.
//!
//! `{"type":"melody.list"}` → `[{key, title, notes, tempo_bpm, duration_s, created_at}]`, the
//! caller's own, newest first (`notes` is the number of notes).

use kino_api::serde_json::{json, Value};
use kino_api::{params, ArgChoice, Body, CmdError, Command, CommandArgs, Ctx, Output, Paging};

use crate::store::{find, visible};

/// `melody.fetch`.
pub fn fetch_command() -> Command {
    Command::new(
        "melody.fetch",
        "Download a transcription's MIDI file, score PNG or MusicXML score",
        fetch,
    )
    .download()
    .file_name("file_name")
}

/// `melody.fetch`'s arguments.
#[derive(CommandArgs)]
pub struct Fetch {
    /// the key melody.transcribe answered
    key: String,
    /// midi (default), png or musicxml
    #[arg(default = Format::Midi)]
    format: Format,
    /// page of the score (png; 1 is the first, `pages` in the reply says how many)
    #[arg(default = 1u32, range = 1..)]
    page: u32,
}

/// Which of a transcription's files.
#[derive(ArgChoice, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The MIDI file.
    Midi,
    /// The score.
    Png,
    /// The score as MusicXML 4.0, for MuseScore, Sibelius and the like.
    Musicxml,
}

/// `melody.list`.
pub fn list_command() -> Command {
    Command::new("melody.list", "Your transcriptions, newest first", list)
}

/// The body for one stored file.
pub fn file_output(ctx: &mut Ctx, blob: &(String, u64), data: Value) -> Result<Output, CmdError> {
    let (source, size) = ctx.blobs().open(&blob.0, 0)?;
    Ok(Output::from(data).with_body(Body {
        len: size,
        source,
        on_complete: None,
        file: None,
    }))
}

fn fetch(ctx: &mut Ctx, args: Fetch) -> Result<Output, CmdError> {
    let key = args.key.as_str();
    let format = args.format.as_str();
    let who = ctx.user()?.clone();
    let not_found = || CmdError::not_found(format!("no transcription {key}"));
    if !visible(ctx.db(), key, &who)? {
        return Err(not_found());
    }
    let stored = find(ctx.db(), key)?.ok_or_else(not_found)?;
    let (blob, ext) = match args.format {
        Format::Png => (
            stored.page(args.page).ok_or_else(|| {
                CmdError::bad_args(format!(
                    "page {} of a score of {} pages",
                    args.page,
                    stored.pages()
                ))
            })?,
            "png",
        ),
        Format::Midi => (&stored.midi, "mid"),
        Format::Musicxml => (
            stored.musicxml.as_ref().ok_or_else(|| {
                CmdError::not_found(format!(
                    "{key} was transcribed before MusicXML: send the recording again"
                ))
            })?,
            "musicxml",
        ),
    };
    if args.page != 1 && args.format != Format::Png {
        return Err(CmdError::bad_args(format!(
            "only the png score has pages; {format} is one file"
        )));
    }
    let (file_name, page) = match args.format {
        Format::Png if stored.pages() > 1 => (format!("{key}-{}.{ext}", args.page), args.page),
        _ => (format!("{key}.{ext}"), 1),
    };
    file_output(
        ctx,
        blob,
        json!({"key": key, "format": format, "file_name": file_name,
               "page": page, "pages": stored.pages()}),
    )
}

fn list(ctx: &mut Ctx, page: Paging) -> Result<Output, CmdError> {
    let Paging { limit, offset } = page;
    let user_id = ctx.user()?.user_id;
    let rows = ctx.db().query(
        "SELECT o.key, o.title, r.notes_json, r.tempo_bpm, r.duration_s, o.created_at
         FROM melody_owners o JOIN melody_results r ON r.key = o.key
         WHERE o.owner_id = ? ORDER BY o.created_at DESC, o.id DESC LIMIT ? OFFSET ?",
        params![user_id, limit, offset],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let notes: Value = kino_api::serde_json::from_str(r.str(2)?).map_err(CmdError::internal)?;
        out.push(json!({
            "key": r.str(0)?,
            "title": r.str(1)?,
            "notes": notes.as_array().map_or(0, Vec::len),
            "tempo_bpm": r.f64(3)?,
            "duration_s": r.f64(4)?,
            "created_at": r.str(5)?,
        }));
    }
    let total = ctx.db().count(
        "SELECT COUNT(*) FROM melody_owners o JOIN melody_results r ON r.key = o.key
         WHERE o.owner_id = ?",
        params![user_id],
    )?;
    Ok(Output::page(out, offset, total))
}
