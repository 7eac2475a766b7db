//! The plugins this build of `kino-server` serves: adding a feature is a crate under `plugins/`
//! plus one line here.

use std::sync::Arc;

use kino_api::Plugin;

/// Every plugin, in registration order (login hooks run in this order).
pub fn all() -> Vec<Arc<dyn Plugin>> {
    vec![
        Arc::new(kino_auth::Auth::new()),
        Arc::new(kino_notices::Notices),
        Arc::new(kino_vip::Vip),
        Arc::new(kino_movies::Movies),
        Arc::new(kino_legacy::Legacy),
        Arc::new(kino_melody::Melody),
    ]
}
