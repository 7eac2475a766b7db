//! Staff notation rendering (stub).
use crate::Transcription;

/// Renders the transcription as a PNG.
pub fn render_score(_t: &Transcription, _title: &str) -> Vec<u8> {
    Vec::new()
}
