//! What a link costs per month: transfer ($/GB moved) and provisioned bandwidth
//! ($/Mbit/s/month), with the simulated traffic scaled up to a 30-day month.
//!
//! This module owns the money arithmetic only; the bytes come from the link channels.

use crate::metrics::round;
use crate::scenario::LinkDef;
use serde::{Deserialize, Serialize};

/// A 30-day month in nanoseconds.
pub const MONTH_NS: u64 = 30 * 24 * 3_600 * 1_000_000_000;

/// Dollars per month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    pub transfer: f64,
    pub provisioned: f64,
    pub total: f64,
}

impl CostReport {
    pub fn add(&mut self, other: &CostReport) {
        self.transfer += other.transfer;
        self.provisioned += other.provisioned;
        self.total += other.total;
    }

    /// To the cent, so summaries print short and byte-stable.
    pub fn rounded(self) -> CostReport {
        CostReport {
            transfer: round(self.transfer, 2),
            provisioned: round(self.provisioned, 2),
            total: round(self.total, 2),
        }
    }
}

/// The monthly cost of `link` carrying `bytes` in `simulated_ns` of simulated time.
pub fn link_cost(link: &LinkDef, bytes: u64, simulated_ns: u64) -> CostReport {
    let month_bytes = bytes as f64 * MONTH_NS as f64 / simulated_ns.max(1) as f64;
    let transfer = month_bytes / 1e9 * link.price_per_gb;
    let mbps = link.bandwidth as f64 * 8.0 / 1e6;
    let provisioned = mbps * link.price_per_mbps_month;
    CostReport {
        transfer,
        provisioned,
        total: transfer + provisioned,
    }
    .rounded()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mirrorlab_model::StorageSerial;

    #[test]
    fn a_day_of_traffic_is_scaled_to_a_month() {
        let link = LinkDef {
            name: "wan".into(),
            a: StorageSerial(1),
            b: StorageSerial(2),
            bandwidth: 100_000_000,
            latency_ns: 0,
            price_per_gb: 0.02,
            price_per_mbps_month: 30.0,
            outages: Vec::new(),
            loss: 0.0,
        };
        // 100 GB in one day -> 3000 GB a month -> $60; 800 Mbit/s at $30 -> $24000.
        let c = link_cost(&link, 100_000_000_000, MONTH_NS / 30);
        assert_eq!(c.transfer, 60.0);
        assert_eq!(c.provisioned, 24_000.0);
        assert_eq!(c.total, 24_060.0);
    }
}
