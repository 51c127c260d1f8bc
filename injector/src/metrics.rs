//! The injector's own Prometheus metrics, registered in one place.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// result: injected | skipped | denied | error
    pub admissions: IntCounterVec,
    pub duration: HistogramVec,
}

// === impl Metrics ===

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let admissions = IntCounterVec::new(
            Opts::new(
                "palisade_injector_admissions_total",
                "Admission requests answered, by result",
            ),
            &["result"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "palisade_injector_admission_duration_seconds",
                "Time to answer an admission request",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["result"],
        )?;
        registry.register(Box::new(admissions.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            registry,
            admissions,
            duration,
        })
    }

    pub fn observe(&self, result: &str, seconds: f64) {
        self.admissions.with_label_values(&[result]).inc();
        self.duration.with_label_values(&[result]).observe(seconds);
    }

    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding registered counters/histograms into a Vec cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
