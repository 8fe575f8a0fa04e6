//! Metrics as CloudWatch Embedded Metric Format (EMF) lines: one JSON object per line on
//! stdout in Lambda, which CloudWatch turns into metrics without any API call.

use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric this project emits.
pub const NAMESPACE: &str = "O365Collector";

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count of things.
    Count,
    /// A duration in seconds.
    Seconds,
    /// A size in bytes.
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// Where EMF lines go: stdout in Lambda, memory in tests, nowhere for quiet local runs.
#[derive(Debug, Clone, Default)]
pub enum MetricsSink {
    /// Print each line to stdout (Lambda).
    Stdout,
    /// Keep lines in memory (tests, local summaries).
    Memory(Arc<Mutex<Vec<String>>>),
    /// Drop them.
    #[default]
    Discard,
}

impl MetricsSink {
    /// A fresh in-memory sink.
    pub fn memory() -> MetricsSink {
        MetricsSink::Memory(Arc::new(Mutex::new(Vec::new())))
    }

    /// Lines collected by a memory sink (empty for the others).
    pub fn lines(&self) -> Vec<String> {
        match self {
            MetricsSink::Memory(m) => m.lock().map(|v| v.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn write(&self, line: String) {
        match self {
            MetricsSink::Stdout => println!("{line}"),
            MetricsSink::Memory(m) => {
                if let Ok(mut v) = m.lock() {
                    v.push(line);
                }
            }
            MetricsSink::Discard => {}
        }
    }
}

/// One EMF document: a set of dimensions and the metric values that share them.
#[derive(Debug, Clone)]
pub struct MetricSet {
    dimensions: Vec<(String, String)>,
    metrics: Vec<(String, f64, Unit)>,
    arrays: Vec<(String, Vec<f64>, Unit)>,
    properties: Vec<(String, Value)>,
}

impl MetricSet {
    /// An empty set with no dimensions.
    pub fn new() -> MetricSet {
        MetricSet {
            dimensions: Vec::new(),
            metrics: Vec::new(),
            arrays: Vec::new(),
            properties: Vec::new(),
        }
    }

    /// Adds a dimension (e.g. `TenantId`, `ContentType`, `Code`, `Kind`).
    pub fn dimension(mut self, name: &str, value: impl Into<String>) -> MetricSet {
        self.dimensions.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a value; repeated names are summed for counts.
    pub fn add(&mut self, name: &str, value: f64, unit: Unit) -> &mut MetricSet {
        if let Some(m) = self
            .metrics
            .iter_mut()
            .find(|(n, _, u)| n == name && *u == unit && unit == Unit::Count)
        {
            m.1 += value;
        } else {
            self.metrics.push((name.to_owned(), value, unit));
        }
        self
    }

    /// Adds a count.
    pub fn count(&mut self, name: &str, value: u64) -> &mut MetricSet {
        self.add(name, value as f64, Unit::Count)
    }

    /// Adds a duration in seconds.
    pub fn seconds(&mut self, name: &str, value: f64) -> &mut MetricSet {
        self.add(name, value, Unit::Seconds)
    }

    /// Adds a size in bytes.
    pub fn bytes(&mut self, name: &str, value: u64) -> &mut MetricSet {
        self.add(name, value as f64, Unit::Bytes)
    }

    /// Adds a searchable property that is not a metric (e.g. a request id).
    pub fn property(&mut self, name: &str, value: impl Into<Value>) -> &mut MetricSet {
        self.properties.push((name.to_owned(), value.into()));
        self
    }

    /// Adds a metric with several values (each one sample; at most [`EMF_MAX_VALUES`], which
    /// [`emit_record_latency`] respects by splitting into documents).
    pub fn values(&mut self, name: &str, values: Vec<f64>, unit: Unit) -> &mut MetricSet {
        self.arrays.push((name.to_owned(), values, unit));
        self
    }

    /// Whether no value was added.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.arrays.iter().all(|(_, v, _)| v.is_empty())
    }

    /// The EMF JSON line, timestamped now.
    pub fn to_line(&self) -> String {
        self.to_line_at(chrono::Utc::now().timestamp_millis())
    }

    /// The EMF JSON line with an explicit timestamp (milliseconds since the epoch).
    pub fn to_line_at(&self, timestamp_ms: i64) -> String {
        let dims: Vec<&str> = self.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        let defs: Vec<Value> = self
            .metrics
            .iter()
            .map(|(n, _, u)| (n, u))
            .chain(self.arrays.iter().map(|(n, _, u)| (n, u)))
            .map(|(n, u)| json!({"Name": n, "Unit": u.as_str()}))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dims],
                    "Metrics": defs,
                }]
            }),
        );
        for (k, v) in &self.dimensions {
            root.insert(k.clone(), Value::String(v.clone()));
        }
        for (k, v) in &self.properties {
            root.insert(k.clone(), v.clone());
        }
        for (n, v, _) in &self.metrics {
            root.insert(n.clone(), json!(v));
        }
        for (n, v, _) in &self.arrays {
            // Whole numbers without a fraction (`42`, not `42.0`): these arrays are most of
            // the bytes of a latency document.
            let values: Vec<Value> = v
                .iter()
                .map(|x| match *x as i64 {
                    i if i as f64 == *x => json!(i),
                    _ => json!(x),
                })
                .collect();
            root.insert(n.clone(), Value::Array(values));
        }
        Value::Object(root).to_string()
    }

    /// Writes the line to a sink, unless the set is empty.
    pub fn emit(&self, sink: &MetricsSink) {
        if !self.is_empty() {
            sink.write(self.to_line());
        }
    }
}

/// Most values EMF accepts for one metric in one document.
pub const EMF_MAX_VALUES: usize = 100;

/// Emits the per-record latency of one stored blob as EMF value arrays:
/// `EventToAvailableSeconds` (each record's `CreationTime` → the blob's `contentCreated`) and
/// `AvailableToStoredSeconds` (`contentCreated` → stored, once per record), with the
/// dimension `ContentType` (the tenant is a property), so CloudWatch takes p50/p95/p99 over
/// records, not over blobs. EMF has no counts and at most [`EMF_MAX_VALUES`] values per
/// metric per document, so a blob of more records is written as several documents: every
/// record is one sample, whatever the blob size. Returns the number of documents written.
pub fn emit_record_latency(
    sink: &MetricsSink,
    tenant_id: &str,
    content_type: &str,
    latency: &crate::latency::RecordLatency,
) -> usize {
    let mut event = latency.event_to_available.values();
    let mut stored = latency.available_to_stored.values();
    let mut documents = 0;
    loop {
        let e: Vec<f64> = event
            .by_ref()
            .take(EMF_MAX_VALUES)
            .map(|v| v as f64)
            .collect();
        let s: Vec<f64> = stored
            .by_ref()
            .take(EMF_MAX_VALUES)
            .map(|v| v as f64)
            .collect();
        if e.is_empty() && s.is_empty() {
            return documents;
        }
        let mut m = MetricSet::new().dimension("ContentType", content_type);
        m.property("TenantId", tenant_id);
        if !e.is_empty() {
            m.values("EventToAvailableSeconds", e, Unit::Seconds);
        }
        if !s.is_empty() {
            m.values("AvailableToStoredSeconds", s, Unit::Seconds);
        }
        m.emit(sink);
        documents += 1;
    }
}

impl Default for MetricSet {
    fn default() -> Self {
        MetricSet::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_emf() {
        let mut m = MetricSet::new()
            .dimension("TenantId", "t")
            .dimension("ContentType", "DLP.All");
        m.count("BlobsListed", 3)
            .count("BlobsListed", 2)
            .seconds("LagSeconds", 12.5);
        let v: Value = serde_json::from_str(&m.to_line_at(1000)).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1000);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][1],
            "ContentType"
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"],
            "Seconds"
        );
        assert_eq!(v["BlobsListed"], 5.0);
        assert_eq!(v["TenantId"], "t");
    }

    #[test]
    fn memory_sink_collects_and_empty_sets_are_skipped() {
        let sink = MetricsSink::memory();
        MetricSet::new().emit(&sink);
        let mut m = MetricSet::new();
        m.bytes("BytesIn", 10);
        m.emit(&sink);
        assert_eq!(sink.lines().len(), 1);
    }

    #[test]
    fn record_latency_is_split_into_documents_of_at_most_100_values() {
        use crate::latency::{LatencyHistogram, RecordLatency};
        let mut event = LatencyHistogram::default();
        for s in 0..250u64 {
            event.add(s, 1);
        }
        let latency = RecordLatency {
            event_to_available: event,
            available_to_stored: LatencyHistogram::constant(42, 260),
        };
        let sink = MetricsSink::memory();
        assert_eq!(
            emit_record_latency(&sink, "t1", "Audit.Exchange", &latency),
            3
        );
        let docs: Vec<Value> = sink
            .lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut events = Vec::new();
        let mut stored = 0;
        for d in &docs {
            let cw = &d["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(cw["Dimensions"], json!([["ContentType"]]));
            assert_eq!(d["ContentType"], "Audit.Exchange");
            assert_eq!(d["TenantId"], "t1");
            let names: Vec<&str> = cw["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap())
                .collect();
            for name in &names {
                let n = d[*name].as_array().unwrap().len();
                assert!((1..=EMF_MAX_VALUES).contains(&n), "{name}: {n}");
            }
            if let Some(v) = d["EventToAvailableSeconds"].as_array() {
                events.extend(v.iter().map(|x| x.as_f64().unwrap() as u64));
            }
            if let Some(v) = d["AvailableToStoredSeconds"].as_array() {
                assert!(v.iter().all(|x| x.as_f64() == Some(42.0)));
                stored += v.len();
            }
        }
        assert_eq!(events, (0..250).collect::<Vec<u64>>());
        assert!(sink.lines()[0].contains("\"AvailableToStoredSeconds\":[42,42,"));
        assert_eq!(stored, 260);
        assert_eq!(
            emit_record_latency(&sink, "t1", "Audit.Exchange", &RecordLatency::default()),
            0
        );
    }
}
