//! Progress bars on stderr for a running experiment.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use spikeburn_experiments::Observer;
use std::sync::Mutex;

/// One bar per stage of the run (hidden when stderr is not a terminal).
#[derive(Default)]
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Observer for Bars {
    fn start(&self, stage: &str, total: u64) {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} eta {eta} {msg}",
            )
            .expect("valid template"),
        );
        bar.set_prefix(stage.to_string());
        *self.bar.lock().expect("progress lock") = Some(bar);
    }

    fn advance(&self, status: &str) {
        if let Some(bar) = &*self.bar.lock().expect("progress lock") {
            bar.set_message(status.to_string());
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }
}
