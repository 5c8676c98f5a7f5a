//! Runtime API modelled on AscendCL: devices, contexts, streams, events, model loading and
//! synchronous or asynchronous execution.
//!
//! Time is simulated: every call that submits work takes the caller's current time in
//! integer microseconds. A task starts at max(submit time, end of the previous task on its
//! stream, events the stream waits on, the moment the device becomes free) and lasts the
//! cost-model latency of the model at the chosen batch gear. The device runs one task at a
//! time, so requests on a busy device queue up in submission order. Completion times are a
//! pure function of the model, gear, device profile and that queue; the wall clock is never
//! read. Numbers are computed for real, eagerly at submission.

use std::collections::BTreeMap;

use crate::compiler::{CompiledModel, Sample};
use crate::cost::KernelCost;
use crate::device::DeviceProfile;
use crate::error::{NpuError, Result};
use crate::ir::Tensor;
use crate::om;
use crate::profiler::{Profiler, TaskSpan};

macro_rules! handle {
    ($(#[$m:meta])* $n:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $n(pub usize);
    };
}
handle!(
    /// A device (`aclrtSetDevice`).
    DeviceId
);
handle!(
    /// A context on a device (`aclrtCreateContext`).
    ContextId
);
handle!(
    /// An in-order work queue (`aclrtCreateStream`).
    StreamId
);
handle!(
    /// A loaded model (`aclmdlLoadFromMem`).
    ModelId
);
handle!(
    /// An event (`aclrtCreateEvent`).
    EventId
);

/// Id of a submitted task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

/// Outcome of one execution.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResult {
    /// Task id.
    pub task: TaskId,
    /// Outputs, one map per request.
    pub outputs: Vec<BTreeMap<String, Tensor>>,
    /// Batch gear used.
    pub gear: usize,
    /// Submission time (µs).
    pub submit_us: u64,
    /// Start on the device (µs).
    pub start_us: u64,
    /// Completion (µs).
    pub end_us: u64,
}

struct Device {
    profile: DeviceProfile,
    busy_until: u64,
    /// Device memory held by loaded models (largest gear's plan each).
    used_bytes: u64,
}

struct Context {
    device: usize,
    default_stream: usize,
}

struct Stream {
    device: usize,
    tail: u64,
    wait_until: u64,
    done: Vec<TaskResult>,
}

struct Model {
    device: usize,
    model: CompiledModel,
    costs: BTreeMap<usize, (u64, Vec<KernelCost>)>,
    bytes: u64,
    loaded: bool,
}

/// The runtime: owns devices, contexts, streams, models and events.
#[derive(Default)]
pub struct Runtime {
    devices: Vec<Device>,
    contexts: Vec<Context>,
    streams: Vec<Stream>,
    models: Vec<Model>,
    events: Vec<Option<u64>>,
    next_task: u64,
    profiler: Profiler,
}

fn bad(what: &str, id: usize) -> NpuError {
    NpuError::Runtime(format!("unknown {what} handle {id}"))
}

impl Runtime {
    /// Empty runtime.
    pub fn new() -> Self {
        Runtime::default()
    }

    /// Opens a device with a profile.
    pub fn set_device(&mut self, profile: DeviceProfile) -> DeviceId {
        self.devices.push(Device {
            profile,
            busy_until: 0,
            used_bytes: 0,
        });
        DeviceId(self.devices.len() - 1)
    }

    /// Profile of a device.
    pub fn device_profile(&self, d: DeviceId) -> Result<&DeviceProfile> {
        self.devices
            .get(d.0)
            .map(|x| &x.profile)
            .ok_or_else(|| bad("device", d.0))
    }

    /// Time at which the device finishes its queued work.
    pub fn device_busy_until(&self, d: DeviceId) -> Result<u64> {
        self.devices
            .get(d.0)
            .map(|x| x.busy_until)
            .ok_or_else(|| bad("device", d.0))
    }

    /// Creates a context (with its default stream) on a device.
    pub fn create_context(&mut self, d: DeviceId) -> Result<ContextId> {
        if d.0 >= self.devices.len() {
            return Err(bad("device", d.0));
        }
        let s = self.new_stream(d.0);
        self.contexts.push(Context {
            device: d.0,
            default_stream: s,
        });
        Ok(ContextId(self.contexts.len() - 1))
    }

    fn new_stream(&mut self, device: usize) -> usize {
        self.streams.push(Stream {
            device,
            tail: 0,
            wait_until: 0,
            done: Vec::new(),
        });
        self.streams.len() - 1
    }

    /// Creates a stream in a context.
    pub fn create_stream(&mut self, c: ContextId) -> Result<StreamId> {
        let dev = self
            .contexts
            .get(c.0)
            .ok_or_else(|| bad("context", c.0))?
            .device;
        Ok(StreamId(self.new_stream(dev)))
    }

    /// Loads a compiled model file into a context; refuses files for another device profile.
    pub fn load_model_from_bytes(&mut self, c: ContextId, bytes: &[u8]) -> Result<ModelId> {
        let dev = self
            .contexts
            .get(c.0)
            .ok_or_else(|| bad("context", c.0))?
            .device;
        let m = om::load(bytes, &self.devices[dev].profile)?;
        self.insert_model(dev, m)
    }

    /// Loads an in-memory compiled model; refuses one compiled for another device profile.
    pub fn load_model(&mut self, c: ContextId, model: CompiledModel) -> Result<ModelId> {
        let dev = self
            .contexts
            .get(c.0)
            .ok_or_else(|| bad("context", c.0))?
            .device;
        if model.device != self.devices[dev].profile.name {
            return Err(NpuError::DeviceMismatch {
                model_device: model.device,
                device: self.devices[dev].profile.name.clone(),
            });
        }
        self.insert_model(dev, model)
    }

    fn insert_model(&mut self, device: usize, model: CompiledModel) -> Result<ModelId> {
        let bytes = model
            .mem_plans
            .iter()
            .map(|p| p.total_bytes)
            .max()
            .unwrap_or(0);
        let dev = &self.devices[device];
        let needed = dev.used_bytes.saturating_add(bytes);
        if needed > dev.profile.soc_info.memory_size_bytes {
            return Err(NpuError::OutOfMemory {
                device: dev.profile.name.clone(),
                needed,
                available: dev.profile.soc_info.memory_size_bytes,
                batch: model.gears.last().copied().unwrap_or(0),
            });
        }
        let mut costs = BTreeMap::new();
        for &g in &model.gears {
            let k = model.kernel_costs(g, &self.devices[device].profile)?;
            costs.insert(g, (crate::cost::total_latency_us(&k), k));
        }
        self.devices[device].used_bytes = needed;
        self.models.push(Model {
            device,
            model,
            costs,
            bytes,
            loaded: true,
        });
        Ok(ModelId(self.models.len() - 1))
    }

    /// Unloads a model and frees its device memory (`aclmdlUnload`).
    pub fn unload_model(&mut self, m: ModelId) -> Result<()> {
        let md = self
            .models
            .get_mut(m.0)
            .filter(|x| x.loaded)
            .ok_or_else(|| bad("model", m.0))?;
        md.loaded = false;
        let dev = &mut self.devices[md.device];
        dev.used_bytes = dev.used_bytes.saturating_sub(md.bytes);
        Ok(())
    }

    /// Device memory held by loaded models.
    pub fn device_used_bytes(&self, d: DeviceId) -> Result<u64> {
        self.devices
            .get(d.0)
            .map(|x| x.used_bytes)
            .ok_or_else(|| bad("device", d.0))
    }

    /// The compiled model behind a handle.
    pub fn model(&self, m: ModelId) -> Result<&CompiledModel> {
        self.models
            .get(m.0)
            .filter(|x| x.loaded)
            .map(|x| &x.model)
            .ok_or_else(|| bad("model", m.0))
    }

    /// Simulated latency of one execution at a gear (µs).
    pub fn model_latency_us(&self, m: ModelId, gear: usize) -> Result<u64> {
        let md = self
            .models
            .get(m.0)
            .filter(|x| x.loaded)
            .ok_or_else(|| bad("model", m.0))?;
        md.costs
            .get(&gear)
            .map(|c| c.0)
            .ok_or_else(|| NpuError::Runtime(format!("model has no gear {gear}")))
    }

    /// Enqueues an execution of all `requests` batched together on a stream
    /// (`aclmdlExecuteAsync`). Results are collected by [`Self::synchronize_stream`].
    pub fn execute_async(
        &mut self,
        s: StreamId,
        m: ModelId,
        requests: &[Sample],
        submit_us: u64,
    ) -> Result<TaskId> {
        let st = self.streams.get(s.0).ok_or_else(|| bad("stream", s.0))?;
        let md = self
            .models
            .get(m.0)
            .filter(|x| x.loaded)
            .ok_or_else(|| bad("model", m.0))?;
        if st.device != md.device {
            return Err(NpuError::Runtime(format!(
                "stream {} and model {} live on different devices",
                s.0, m.0
            )));
        }
        let (outputs, gear) = md.model.run_batch_with_gear(requests)?;
        let (one, one_costs) = md
            .costs
            .get(&gear)
            .cloned()
            .ok_or_else(|| NpuError::Runtime(format!("model has no gear {gear}")))?;
        // A dynamic-batch model runs all requests in one execution; a static one runs once
        // per request, back to back.
        let executions = if md.model.graph.has_dynamic_batch() {
            1
        } else {
            requests.len().max(1)
        };
        let latency = one * executions as u64;
        let costs: Vec<KernelCost> = (0..executions)
            .flat_map(|_| one_costs.iter().cloned())
            .collect();
        let dev = &mut self.devices[md.device];
        let st = &mut self.streams[s.0];
        let start = submit_us
            .max(st.tail)
            .max(st.wait_until)
            .max(dev.busy_until);
        let end = start + latency;
        dev.busy_until = end;
        st.tail = end;
        let task = TaskId(self.next_task);
        self.next_task += 1;
        st.done.push(TaskResult {
            task,
            outputs,
            gear,
            submit_us,
            start_us: start,
            end_us: end,
        });
        self.profiler.record(
            TaskSpan {
                device: md.device,
                device_name: dev.profile.name.clone(),
                stream: s.0,
                task: task.0,
                model: md.model.graph.name.clone(),
                gear,
                requests: requests.len(),
                start_us: start,
                end_us: end,
            },
            &costs,
        );
        Ok(task)
    }

    /// Waits for every task of a stream and returns their results in submission order
    /// (`aclrtSynchronizeStream`).
    pub fn synchronize_stream(&mut self, s: StreamId) -> Result<Vec<TaskResult>> {
        let st = self
            .streams
            .get_mut(s.0)
            .ok_or_else(|| bad("stream", s.0))?;
        Ok(std::mem::take(&mut st.done))
    }

    /// Synchronous execution on the context's default stream (`aclmdlExecute`).
    pub fn execute(
        &mut self,
        c: ContextId,
        m: ModelId,
        requests: &[Sample],
        submit_us: u64,
    ) -> Result<TaskResult> {
        let s = StreamId(
            self.contexts
                .get(c.0)
                .ok_or_else(|| bad("context", c.0))?
                .default_stream,
        );
        let id = self.execute_async(s, m, requests, submit_us)?;
        let mut done = self.synchronize_stream(s)?;
        let pos = done
            .iter()
            .position(|r| r.task == id)
            .ok_or_else(|| NpuError::Runtime("task vanished".into()))?;
        Ok(done.swap_remove(pos))
    }

    /// Creates an event.
    pub fn create_event(&mut self) -> EventId {
        self.events.push(None);
        EventId(self.events.len() - 1)
    }

    /// Records an event at the current end of a stream (`aclrtRecordEvent`).
    pub fn record_event(&mut self, e: EventId, s: StreamId) -> Result<()> {
        let t = self
            .streams
            .get(s.0)
            .ok_or_else(|| bad("stream", s.0))?
            .tail;
        *self.events.get_mut(e.0).ok_or_else(|| bad("event", e.0))? = Some(t);
        Ok(())
    }

    /// Makes later work on a stream wait for an event (`aclrtStreamWaitEvent`).
    pub fn stream_wait_event(&mut self, s: StreamId, e: EventId) -> Result<()> {
        let t = self
            .events
            .get(e.0)
            .ok_or_else(|| bad("event", e.0))?
            .ok_or_else(|| NpuError::Runtime(format!("event {} was never recorded", e.0)))?;
        let st = self
            .streams
            .get_mut(s.0)
            .ok_or_else(|| bad("stream", s.0))?;
        st.wait_until = st.wait_until.max(t);
        Ok(())
    }

    /// Simulated time of a recorded event.
    pub fn event_time(&self, e: EventId) -> Result<Option<u64>> {
        self.events
            .get(e.0)
            .copied()
            .ok_or_else(|| bad("event", e.0))
    }

    /// Spans recorded so far.
    pub fn profiler(&self) -> &Profiler {
        &self.profiler
    }
}
