//! The plan of a run: which record types go to which file, and which decoder instances run on
//! which thread (the flow workers, the global thread, the workers' stream stages, the writer's
//! record stage), with the layer and port interests the dispatcher routes packets by.
//!
//! Everything here happens before the first packet is read; a decoder that cannot start, a
//! missing required resource or a contradiction between decoders stops the run here.

use super::{CaptureOptions, RunError};
use crate::dissect::{self, layer_bit};
use crate::output::TypeOut;
use crate::plugin::{self, DecoderKind, LoadedDecoder};
use crate::worker::Slot;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What runs where.
pub(super) struct Plan {
    /// The record types written (or produced for a record decoder), one file each, in decoder order.
    pub(super) types: Vec<TypeOut>,
    /// Per decoder: local type id -> index in `types` (None: disabled).
    pub(super) type_maps: Vec<Vec<Option<usize>>>,
    pub(super) nworkers: usize,
    /// A global decoder runs: the global thread (index `nworkers`) gets every packet.
    pub(super) has_global: bool,
    /// A stateful decoder runs: packets carry DPI verdicts and names, and ticks are sent.
    pub(super) ticking: bool,
    /// Packet and global decoder instances per thread (flow workers, then the global thread).
    pub(super) worker_slots: Vec<Vec<Slot>>,
    /// Stream decoder instances per flow worker.
    pub(super) stream_slots: Vec<Vec<Slot>>,
    pub(super) stream_interests: crate::streams::Interests,
    /// Layers some decoder wants (packets with no wanted innermost layer are unknown).
    pub(super) interest: u128,
    pub(super) ports: dissect::PortInterests,
    /// Set by the writer when a decoder is disabled for the run (see `worker::FaultLedger`).
    pub(super) gates: Vec<Arc<AtomicBool>>,
    next_port_bit: u32,
}

impl Plan {
    /// Plans the run of `decoders` with the `enabled` types (written when `asked`).
    pub(super) fn new(
        decoders: &[LoadedDecoder],
        enabled: &[Vec<bool>],
        asked: &[Vec<bool>],
        opts: &CaptureOptions,
    ) -> Result<Plan, RunError> {
        let (types, type_maps) = record_types(decoders, enabled, asked);
        let nworkers = opts.workers.max(1);
        let runs = |d: &LoadedDecoder, en: &Vec<bool>, f: fn(DecoderKind) -> bool| f(d.spec.kind) && en.contains(&true);
        let has_global = decoders.iter().zip(enabled).any(|(d, en)| runs(d, en, |k| k == DecoderKind::Global));
        let ticking = decoders.iter().zip(enabled).any(|(d, en)| runs(d, en, DecoderKind::stateful));
        let nthreads = nworkers + usize::from(has_global);
        let mut plan = Plan {
            types,
            type_maps,
            nworkers,
            has_global,
            ticking,
            worker_slots: (0..nthreads).map(|_| Vec::new()).collect(),
            stream_slots: (0..nthreads).map(|_| Vec::new()).collect(),
            stream_interests: crate::streams::Interests::default(),
            interest: 0,
            ports: dissect::PortInterests::default(),
            gates: decoders.iter().map(|_| Arc::new(AtomicBool::new(false))).collect(),
            next_port_bit: 127,
        };
        for (di, d) in decoders.iter().enumerate() {
            let names: Vec<&str> = enabled_names(d, &enabled[di]);
            match d.spec.kind {
                _ if names.is_empty() => {}
                DecoderKind::Record => {} // see `record_stage`
                DecoderKind::Stream => plan.add_stream_decoder(di, d, &decoder_config(&names, opts))?,
                _ => plan.add_packet_decoder(di, d, &decoder_config(&names, opts))?,
            }
        }
        Ok(plan)
    }

    /// Flow workers plus the global thread.
    pub(super) fn nthreads(&self) -> usize {
        self.nworkers + usize::from(self.has_global)
    }

    /// A stream decoder: an instance in each flow worker's stream stage, bit i of the stream
    /// interests for the i-th stream decoder.
    fn add_stream_decoder(
        &mut self,
        di: usize,
        d: &LoadedDecoder,
        config: &[(String, String)],
    ) -> Result<(), RunError> {
        let (sports, any) = plugin::stream_interests(&d.spec.layers)
            .map_err(|m| RunError::Config(format!("decoder {}: {m}", d.spec.id)))?;
        let n = self.stream_slots[0].len();
        if n == 64 {
            return Err(RunError::Config(format!("decoder {}: more than 64 stream decoders", d.spec.id)));
        }
        self.stream_interests.add(1 << n, &sports, any);
        // TCP packets feed the stream decoders: they are not unknown.
        self.interest |= layer_bit(netcap_sdk::layer::TCP);
        for w in 0..self.nworkers {
            let slot = self.slot(di, d, config, 0, false)?;
            self.stream_slots[w].push(slot);
        }
        Ok(())
    }

    /// A layer, packet or global decoder: an instance per flow worker, or one on the global
    /// thread; its port interests get a bit of the packet mask of their own.
    fn add_packet_decoder(
        &mut self,
        di: usize,
        d: &LoadedDecoder,
        config: &[(String, String)],
    ) -> Result<(), RunError> {
        self.interest |= d.spec.layer_mask;
        let mut layer_mask = d.spec.layer_mask;
        if !d.spec.ports.is_empty() {
            if self.next_port_bit < dissect::PORT_BITS_START {
                return Err(RunError::Config(format!(
                    "decoder {}: more than {} decoders with port interests",
                    d.spec.id,
                    128 - dissect::PORT_BITS_START
                )));
            }
            let bit = 1u128 << self.next_port_bit;
            self.next_port_bit -= 1;
            layer_mask |= bit;
            for &(transport, port) in &d.spec.ports {
                self.ports.add(transport, port, bit);
            }
        }
        // A stateful decoder that names no layers gets every packet. (Unknown packets stay those
        // whose innermost layer no layer decoder wants.)
        let all = d.spec.kind.stateful() && d.spec.layers.is_empty();
        let range = if d.spec.kind == DecoderKind::Global { self.nworkers..self.nthreads() } else { 0..self.nworkers };
        for w in range {
            let slot = self.slot(di, d, config, layer_mask, all)?;
            self.worker_slots[w].push(slot);
        }
        Ok(())
    }

    /// A new instance of decoder `di`.
    fn slot(
        &self,
        di: usize,
        d: &LoadedDecoder,
        config: &[(String, String)],
        layer_mask: u128,
        all: bool,
    ) -> Result<Slot, RunError> {
        new_slot(d, config, di, self.type_maps[di].clone(), self.gates[di].clone(), layer_mask, all)
    }
}

/// A decoder's enabled record type names.
fn enabled_names<'a>(d: &'a LoadedDecoder, enabled: &[bool]) -> Vec<&'a str> {
    d.spec.record_types.iter().zip(enabled).filter(|(_, on)| **on).map(|(t, _)| t.name.as_str()).collect()
}

/// Instantiates decoder `d` (index `di`) with `config`.
fn new_slot(
    d: &LoadedDecoder,
    config: &[(String, String)],
    di: usize,
    type_map: Vec<Option<usize>>,
    gate: Arc<AtomicBool>,
    layer_mask: u128,
    all: bool,
) -> Result<Slot, RunError> {
    let instance = d
        .factory
        .instantiate(config)
        .map_err(|f| RunError::Instantiate { id: d.spec.id.clone(), message: f.message.clone() })?;
    Ok(Slot {
        id: d.spec.id.clone(),
        kind: d.spec.kind,
        all,
        instance,
        layer_mask,
        type_map,
        decoder: di as u16,
        gate,
        disabled: false,
    })
}

/// The record types of the run, in decoder order, and each decoder's map onto them. A type
/// declared by an earlier decoder too (same message and schema, see
/// `plugin::check_unique_types`) is one file, whose header names the first decoder.
fn record_types(
    decoders: &[LoadedDecoder],
    enabled: &[Vec<bool>],
    asked: &[Vec<bool>],
) -> (Vec<TypeOut>, Vec<Vec<Option<usize>>>) {
    let mut types: Vec<TypeOut> = Vec::new();
    let mut type_maps = Vec::new();
    for ((d, en), asked) in decoders.iter().zip(enabled).zip(asked) {
        let mut map = Vec::new();
        for ((t, on), &written) in d.spec.record_types.iter().zip(en).zip(asked) {
            if !*on {
                map.push(None);
            } else if let Some(shared) = types.iter().position(|u| u.name == t.name) {
                map.push(Some(shared));
                types[shared].written |= written;
            } else {
                map.push(Some(types.len()));
                types.push(TypeOut {
                    written,
                    name: t.name.clone(),
                    message: t.message.clone(),
                    decoder: d.spec.id.clone(),
                    decoder_version: d.spec.version.clone(),
                    wit_version: d.spec.wit_version.clone(),
                    schema: d.spec.schema.clone(),
                });
            }
        }
        type_maps.push(map);
    }
    (types, type_maps)
}

/// Record decoders read the records of the types they consume: those types are produced (and
/// written) whenever an enabled record decoder reads them. A consumed type no loaded decoder
/// produces is a notice (the input stays empty); one with another protobuf message than the
/// record decoder expects is refused.
pub(super) fn enable_record_inputs(
    decoders: &[LoadedDecoder],
    enabled: &mut [Vec<bool>],
    notices: &mut Vec<String>,
) -> Result<(), RunError> {
    for (i, d) in decoders.iter().enumerate() {
        if d.spec.kind != DecoderKind::Record || !enabled[i].iter().any(|&on| on) {
            continue;
        }
        for c in &d.spec.consumes {
            let mut found = false;
            for (j, p) in decoders.iter().enumerate() {
                for (k, t) in p.spec.record_types.iter().enumerate() {
                    if t.name != c.name {
                        continue;
                    }
                    if !c.message.is_empty() && c.message != t.message {
                        return Err(RunError::Config(format!(
                            "decoder {} reads {} records as {}, but decoder {} writes them as {}",
                            d.spec.id, c.name, c.message, p.spec.id, t.message
                        )));
                    }
                    enabled[j][k] = true;
                    found = true;
                }
            }
            if !found {
                notices.push(format!("decoder {} reads {} records, which no loaded decoder writes", d.spec.id, c.name));
            }
        }
    }
    Ok(())
}

/// A decoder that requires a resource the user did not give stops the run before any input.
pub(super) fn check_resources(
    decoders: &[LoadedDecoder],
    enabled: &[Vec<bool>],
    resources: &crate::resolve::resources::Resources,
) -> Result<(), RunError> {
    for (d, en) in decoders.iter().zip(enabled) {
        if !en.iter().any(|&on| on) {
            continue;
        }
        for r in d.spec.resources.iter().filter(|r| r.required) {
            if resources.path(&r.name).is_none() {
                return Err(RunError::Config(format!(
                    "decoder {} needs the resource {} ({}): give it with --resource {}=PATH or --resources DIR",
                    d.spec.id, r.name, r.description, r.name
                )));
            }
        }
    }
    Ok(())
}

/// The record stage: one instance of each enabled record decoder, in dependency order.
pub(super) fn record_stage(
    decoders: &[LoadedDecoder],
    enabled: &[Vec<bool>],
    plan: &Plan,
    opts: &CaptureOptions,
) -> Result<Option<crate::records::RecordStage>, RunError> {
    let order = crate::records::dependency_order(decoders, enabled).map_err(RunError::Config)?;
    if order.is_empty() {
        return Ok(None);
    }
    let mut slots = Vec::new();
    for di in order {
        let d = &decoders[di];
        let config = decoder_config(&enabled_names(d, &enabled[di]), opts);
        let slot = plan.slot(di, d, &config, 0, false)?;
        let mut inputs: Vec<(usize, u16)> = d
            .spec
            .consumes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| plan.types.iter().position(|t| t.name == c.name).map(|g| (g, i as u16)))
            .collect();
        inputs.sort();
        slots.push(crate::records::RecordSlot { slot, inputs });
    }
    Ok(Some(crate::records::RecordStage::new(slots, plan.types.len(), opts.limits.output_bytes)))
}

/// The configuration every decoder instance gets at `init`.
fn decoder_config(record_types: &[&str], opts: &CaptureOptions) -> Vec<(String, String)> {
    let mut c = vec![
        ("record-types".to_string(), record_types.join(",")),
        ("payload".to_string(), opts.payload.to_string()),
        ("entropy".to_string(), opts.entropy.to_string()),
    ];
    if let Some(x) = &opts.extract {
        c.push(("extract-files".to_string(), "true".to_string()));
        c.push(("extract-max-file".to_string(), x.max_file.to_string()));
    }
    c.extend(opts.decoder_config.iter().cloned());
    c
}
