//! The end of a run: the time series completed, the invariants judged at the end, and the
//! [`RunOutput`] (summary and series) built from what the run left.

use super::*;

impl Timed<'_> {
    pub(super) fn finish(mut self, fabric: Fabric) -> Finished {
        let end = self.now();
        // Bytes count when they leave: what is still queued was never sent, nor billed.
        let mut queued = vec![(0, 0); self.net.channels.len()];
        for (k, c) in self.net.channels.iter_mut().enumerate() {
            for (mirror, data, control) in c.close(end) {
                queued[k].0 += data;
                queued[k].1 += control;
                self.tracks.uncount_bytes(mirror, data, control);
            }
        }
        for tr in &mut self.tracks.list {
            tr.rpo(end);
        }
        let (writes, oldest_age_ns) = self.hosts.queued(end);
        if self.samples.record {
            let iv = self.scenario.interval_ns;
            let intervals = end.div_ceil(iv) as usize;
            for k in 0..intervals {
                let t0 = k as u64 * iv;
                let t1 = (t0 + iv).min(end);
                for l in &self.net.links {
                    for (d, &ch) in l.channels.iter().enumerate() {
                        let c = &self.net.channels[ch];
                        let u = c.intervals().get(k).copied().unwrap_or_default();
                        let (from, to) = if d == 0 {
                            (l.def.a, l.def.b)
                        } else {
                            (l.def.b, l.def.a)
                        };
                        self.samples.series.link_usage.push(LinkSample {
                            time_ns: t1,
                            link: l.def.name.clone(),
                            direction: format!("{from}->{to}"),
                            data_bytes: u.data_bytes,
                            control_bytes: u.control_bytes,
                            utilisation: round(
                                (u.busy_ns as f64 / (t1 - t0).max(1) as f64).min(1.0),
                                4,
                            ),
                        });
                    }
                }
            }
        }
        let replay = self.scenario.replay.as_ref().map(|r| ReplayReport {
            steps: r.steps.len(),
            interval_ns: r.interval_ns,
            broken: Vec::new(),
            volumes: volume_contents(&fabric),
            in_flight: self.in_flight(),
            timers: self.timers_set(),
        });
        Finished {
            replay,
            end,
            events: self.engine.processed(),
            fabric,
            channels: self.net.channels,
            queued,
            queued_at_end: QueuedAtEnd {
                writes,
                oldest_age_ns,
            },
            landing: self.net.landing,
            links: self.net.links,
            hosts: self.hosts.list,
            tracks: self.tracks.list,
            commands: self.runbook.commands,
            topology: self.topology,
            series: self.samples.series,
            disasters: self.disasters,
        }
    }
}

impl Finished {
    pub(super) fn system(&self, s: StorageSerial) -> Option<&StorageSystem> {
        self.fabric.system(s)
    }

    /// [`invariants::QUIET_PAIR`] at the end: a mirror in PAIR at both ends with nothing of
    /// it pending or in flight holds identical volumes.
    pub(super) fn check_quiet_pairs(&self, failures: &mut Vec<String>) {
        let in_flight = |m: MirrorId| {
            (self.channels.iter()).any(|c| c.queue().any(|x| x.msg.mirror() == m))
                || (self.landing.iter()).any(|q| q.iter().any(|(_, x)| x.msg.mirror() == m))
        };
        for m in invariants::quiet_pairs_differing(&self.fabric, in_flight) {
            failures.push(format!(
                "mirror {m} ({}) is in PAIR with nothing in flight, yet {} and {} differ",
                self.topology.group_of(m).unwrap_or("-"),
                m.pvol,
                m.svol
            ));
        }
    }

    /// How often each invariant was judged and broken: the splits and no-copy creates when
    /// they completed, the quiet pairs once at the end (`quiet_broken`).
    pub(super) fn verdicts(&self, quiet_broken: bool) -> Vec<InvariantVerdict> {
        let tally = |invariant: &str, judged: &mut dyn Iterator<Item = bool>| {
            let (mut n, mut bad) = (0, 0);
            for ok in judged {
                n += 1;
                bad += u64::from(!ok);
            }
            InvariantVerdict {
                invariant: invariant.to_string(),
                judged: n,
                broken: bad,
            }
        };
        let splits = self.commands.iter().filter_map(|c| c.split.as_ref());
        vec![
            tally(
                invariants::SPLIT_IDENTICAL,
                &mut splits.filter_map(|s| s.digests_match),
            ),
            tally(
                invariants::NOCOPY_IDENTICAL,
                &mut self.commands.iter().filter_map(|c| c.nocopy_identical),
            ),
            tally(invariants::QUIET_PAIR, &mut std::iter::once(!quiet_broken)),
        ]
    }

    pub(super) fn into_output(
        self,
        scenario: &Scenario,
        mode: Option<CopyMode>,
        second: Option<SecondMirror>,
    ) -> RunOutput {
        let end = self.end.max(1);
        let mut total_cost = CostReport::default();
        let links: Vec<LinkReport> = self
            .links
            .iter()
            .map(|l| {
                let [c0, c1] = l.channels.map(|c| &self.channels[c]);
                let data = c0.data_bytes + c1.data_bytes;
                let control = c0.control_bytes + c1.control_bytes;
                let [q0, q1] = l.channels.map(|c| self.queued[c]);
                let busy = c0.busy_ns_until(end).max(c1.busy_ns_until(end));
                let cost = cost::link_cost(&l.def, data + control, end);
                total_cost.add(&cost);
                LinkReport {
                    name: l.def.name.clone(),
                    data_bytes: data,
                    control_bytes: control,
                    queued_data_bytes: q0.0 + q1.0,
                    queued_control_bytes: q0.1 + q1.1,
                    busy_fraction: round(busy as f64 / end as f64, 6),
                    messages: c0.messages + c1.messages,
                    dropped_messages: c0.dropped + c1.dropped,
                    lost_messages: l.lost,
                    bandwidth_bytes_per_s: l.def.bandwidth,
                    latency_ns: l.def.latency_ns,
                    cost,
                }
            })
            .collect();
        let mirrors: Vec<MirrorReport> = self
            .tracks
            .iter()
            .map(|t| {
                let options = self.topology.mirror(t.id).map(|m| m.options);
                let state =
                    |s: StorageSerial| self.system(s).map_or(PairState::Simplex, |x| x.state(t.id));
                MirrorReport {
                    group: t.group.clone(),
                    pvol: t.id.pvol.to_string(),
                    svol: t.id.svol.to_string(),
                    mode: if t.id.is_local() {
                        "local".to_string()
                    } else {
                        options.map_or("-".to_string(), |o| o.mode.to_string())
                    },
                    writes_replicated: t.replicated,
                    final_state: state(t.id.pvol.storage).to_string(),
                    svol_state: state(t.id.svol.storage).to_string(),
                    max_lag_bytes: t.max_lag_bytes,
                    final_lag_bytes: t.lag_bytes,
                    max_rpo_ns: t.max_rpo_ns,
                    final_rpo_ns: t.rpo_at_end,
                    replication_delay_ns: t.delay.summary(),
                    data_bytes: t.data_bytes,
                    control_bytes: t.control_bytes,
                }
            })
            .collect();
        let hosts: Vec<HostReport> = self
            .hosts
            .iter()
            .map(|h| HostReport {
                name: h.def.name.clone(),
                role: h.def.role,
                storage: h.def.storage.0,
                writes: h.writes,
                bytes_written: h.bytes_written,
                acked: h.acked,
                failed: h.failed,
                reads: h.reads,
                read_bytes: h.read_bytes,
                write_latency_ns: h.latency.summary(),
                latency_writes: h.latency.count(),
                first_failure: h.first_failure.clone(),
            })
            .collect();
        // What broke, with the time it was seen (a replay names the step of that time).
        let mut broken: Vec<(u64, String)> = Vec::new();
        let mut splits = Vec::new();
        let mut resyncs = Vec::new();
        let mut commands = Vec::new();
        for (c, def) in self.commands.iter().zip(&scenario.commands) {
            let result = match (c.issued, c.completed) {
                (None, _) => "not issued".to_string(),
                (Some(_), None) => "not completed".to_string(),
                (Some(_), Some(_)) if c.refusals.is_empty() => "done".to_string(),
                _ => format!("refused: {}", c.refusals.join("; ")),
            };
            commands.push(CommandReport {
                run: def.text.clone(),
                issued_ns: c.issued,
                completed_ns: c.completed,
                result,
            });
            let seen = c.completed.unwrap_or(self.end);
            if let (Some(false), Some((m, ..))) = (c.nocopy_identical, c.create) {
                broken.push((
                    seen,
                    format!(
                        "no-copy create `{}` completed on volumes that differ: {m} is in PAIR \
                         but {} is not a copy of {}",
                        def.text, m.svol, m.pvol
                    ),
                ));
            }
            if let Some(s) = &c.split {
                if s.digests_match == Some(false) {
                    broken.push((
                        seen,
                        format!(
                            "atomic split `{}` completed but its SVOLs ({}) hold different data",
                            def.text,
                            s.svols
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                splits.push(SplitReport {
                    command: def.text.clone(),
                    issued_ns: c.issued.unwrap_or(0),
                    completed_ns: c.completed,
                    duration_ns: c.completed.zip(c.issued).map(|(d, i)| d - i),
                    host_io_stall_ns: s.stall_ns,
                    control_bytes: s.control_bytes,
                    svols: s.svols.iter().map(ToString::to_string).collect(),
                    digests_match: s.digests_match,
                    refused: (!c.refusals.is_empty()).then(|| c.refusals.join("; ")),
                    consistency: s.consistency.clone(),
                });
            }
            for r in &c.resyncs {
                resyncs.push(ResyncReport {
                    command: def.text.clone(),
                    mirror: r.mirror.to_string(),
                    issued_ns: c.issued.unwrap_or(0),
                    completed_ns: c.completed,
                    dirty_chunks: r.dirty_chunks,
                    chunk_bytes: r.chunk_bytes,
                    data_bytes: (!r.mirror.is_local()).then_some(r.data_bytes),
                });
            }
        }
        let mut quiet = Vec::new();
        self.check_quiet_pairs(&mut quiet);
        let verdicts = self.verdicts(!quiet.is_empty());
        broken.extend(quiet.into_iter().map(|f| (self.end, f)));
        let replay = self.replay.map(|mut r| {
            r.broken = broken
                .iter()
                .map(|(t, failure)| {
                    let step = scenario.replay.as_ref().and_then(|x| {
                        let k = usize::try_from(t / x.interval_ns).ok()?;
                        Some((k, x.steps.get(k.checked_sub(1)?)?))
                    });
                    BrokenPromise {
                        step: step.map(|s| s.0),
                        at: step.map(|(_, s)| {
                            format!("{}:{}:{}", scenario.path.display(), s.line, s.column)
                        }),
                        text: step.map(|(_, s)| s.text.clone()),
                        failure: failure.clone(),
                    }
                })
                .collect();
            r
        });
        let failures: Vec<String> = broken.into_iter().map(|x| x.1).collect();
        let skipped = self
            .hosts
            .iter()
            .filter_map(|h| h.workload.as_ref())
            .map(Workload::skipped_lines)
            .sum();
        let unmapped = self
            .hosts
            .iter()
            .filter_map(|h| h.workload.as_ref())
            .map(Workload::unmapped_records)
            .sum();
        let summary = Summary {
            scenario: scenario.name.clone(),
            seed: scenario.seed,
            simulated_ns: self.end,
            mode_override: mode.map(|m| m.to_string()),
            links,
            mirrors,
            hosts,
            cost: total_cost.rounded(),
            events: self.events,
            splits,
            resyncs,
            disasters: self.disasters,
            queued_at_end: self.queued_at_end,
            second_mirror: second,
            commands,
            pairdisplay: pairdisplay(&self.topology, self.fabric.systems.values()),
            skipped_trace_lines: skipped,
            unmapped_trace_records: unmapped,
            invariants: Invariants {
                ok: failures.is_empty(),
                failures,
                verdicts,
            },
            replay,
        };
        RunOutput {
            summary,
            series: self.series,
        }
    }
}
