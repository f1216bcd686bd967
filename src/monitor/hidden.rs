//! Hiding a pipeline (`x`) until its next delivery, and showing them all again (`X`). The
//! flag lives on the pipeline, so the saved screen keeps it; a delivery clears it in
//! [`Monitor::apply`].

use super::{Monitor, PipelineKey};

impl Monitor {
    /// Hides a pipeline from the screen until its next delivery; whether it was shown.
    pub fn hide(&mut self, key: &PipelineKey) -> bool {
        let Some(pipeline) = self
            .index
            .get(key)
            .and_then(|activity| self.pipelines.get_mut(activity))
        else {
            return false;
        };
        if pipeline.hidden {
            return false;
        }
        pipeline.hidden = true;
        self.hidden += 1;
        self.generation += 1;
        true
    }

    /// Shows every hidden pipeline again; how many there were.
    pub fn show_hidden(&mut self) -> usize {
        let shown = std::mem::take(&mut self.hidden);
        if shown > 0 {
            for pipeline in self.pipelines.values_mut() {
                pipeline.hidden = false;
            }
            self.generation += 1;
        }
        shown
    }

    /// How many pipelines are hidden.
    pub fn hidden_count(&self) -> usize {
        self.hidden
    }
}
