//! What a replay shows of the world: the timers set and the messages in flight as the steps
//! that would fire or deliver them, and every volume's content.

use super::*;

impl Timed<'_> {
    /// A message key with its mirror named as a replay names it.
    pub(super) fn key_text(&self, key: &MessageKey<MirrorId>) -> String {
        key.clone().map(|m| self.topology.mirror_ref(m)).to_string()
    }

    pub(super) fn timer_text(&self, i: usize, timer: Timer) -> String {
        let (kind, m) = TimerKind::of(timer);
        Step::Timer {
            kind,
            mirror: self.topology.mirror_ref(m),
            system: self.serials[i],
        }
        .to_string()
    }

    /// The timers set, as the steps that would fire them, sorted.
    pub(super) fn timers_set(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .timers
            .keys()
            .map(|&(i, t)| self.timer_text(i as usize, t))
            .collect();
        v.sort();
        v
    }

    /// The messages in flight, as the steps that would deliver them: the links' in FIFO order
    /// by direction, then the host network's sorted (it has no order).
    pub(super) fn in_flight(&self) -> Vec<String> {
        let mut v: Vec<(Transport, StorageSerial, StorageSerial, usize, String)> = Vec::new();
        for c in &self.channels {
            for (k, m) in c.queue().enumerate() {
                let message = MessageKey::of(&m.msg).map(|x| self.topology.mirror_ref(x));
                let text = Step::Deliver {
                    via: m.via,
                    from: m.from,
                    to: m.to,
                    message,
                }
                .to_string();
                let order = if m.via == Transport::Interconnect {
                    k
                } else {
                    0
                };
                v.push((m.via, m.from, m.to, order, text));
            }
        }
        v.sort();
        v.into_iter().map(|x| x.4).collect()
    }
}

/// Every volume's written blocks and digest, by volume id.
pub(super) fn volume_contents(fabric: &Fabric) -> Vec<VolumeContent> {
    let mut v: Vec<(VolumeId, VolumeContent)> = fabric
        .systems
        .values()
        .flat_map(|s| {
            s.volumes().map(|(serial, vol)| {
                let id = VolumeId {
                    storage: s.serial(),
                    serial,
                };
                let content = VolumeContent {
                    volume: id.to_string(),
                    blocks: describe_blocks(&vol.blocks_in(0, u64::MAX), |w| w.to_string()),
                    digest: format!("{:016x}", vol.digest().0),
                };
                (id, content)
            })
        })
        .collect();
    v.sort_by_key(|x| x.0);
    v.into_iter().map(|x| x.1).collect()
}

/// Items for a replay error message: `a`, `b` as `` `a`, `b` ``, or "none".
pub(super) fn listing(items: Vec<String>) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
