//! Bad traces are refused line by line with what was expected, or skipped and counted.

use super::*;
use crate::trace::reader::MAX_LINE;
use std::io::{self, BufReader};

#[test]
fn bad_fields_name_line_field_and_expectation() {
    use TraceFormat::*;
    let cases: &[(&str, TraceFormat, &str)] = &[
        (
            "1,1,2a,512,1\n\n#\n1,2,zz,512,1\n",
            CloudPhysics,
            r#"line 4: expected a hex SCSI opcode in field "op", found "zz""#,
        ),
        (
            "1,1,2a,512,1\n1,2,2a,512\n",
            CloudPhysics,
            r#"line 2: expected 5 comma-separated fields "version,time,op,size,lbn", found 4 in "1,2,2a,512""#,
        ),
        (
            "1 2 3 4\n",
            MqSim,
            r#"line 1: expected 5 space-separated fields "arrival_time_ns device start_sector size_in_sectors type", found 4 in "1 2 3 4""#,
        ),
        (
            "0,1,512,r\n",
            Umass,
            r#"line 1: expected at least 5 comma-separated fields "ASU,LBA,Size,Opcode,Timestamp", found 4 in "0,1,512,r""#,
        ),
        (
            "1,1.5.1,2a,512,1\n",
            CloudPhysics,
            r#"line 1: expected a time in seconds in field "time", found "1.5.1""#,
        ),
        (
            "1,1,2a,-512,1\n",
            CloudPhysics,
            r#"line 1: expected a size in bytes in field "size", found "-512""#,
        ),
        (
            "1,1,2a,512,x1\n",
            CloudPhysics,
            r#"line 1: expected a sector number in field "lbn", found "x1""#,
        ),
        (
            "1,1,2a,0,1\n",
            CloudPhysics,
            r#"line 1: expected a non-zero size in field "size", found "0""#,
        ),
        (
            "1 2 3 0 0\n",
            MqSim,
            r#"line 1: expected a non-zero size in field "size_in_sectors", found "0""#,
        ),
        (
            "1 2 3 4 2\n",
            MqSim,
            r#"line 1: expected 0 (write) or 1 (read) in field "type", found "2""#,
        ),
        (
            "1e3 2 3 4 0\n",
            MqSim,
            r#"line 1: expected a time in nanoseconds in field "arrival_time_ns", found "1e3""#,
        ),
        (
            "1.5 0 8 8 1\n2 0 8 8 0x\n",
            DiskSim,
            r#"line 2: expected hexadecimal request flags (bit 0 set for a read) in field "request_flags", found "0x""#,
        ),
        (
            "1.5 0 8 8 100000000\n",
            DiskSim,
            r#"line 1: expected hexadecimal request flags (bit 0 set for a read) in field "request_flags", found "100000000""#,
        ),
        (
            "1e3 0 8 8 1\n",
            DiskSim,
            r#"line 1: expected a time in milliseconds in field "arrival_time_ms", found "1e3""#,
        ),
        (
            "1.5 0 8 8\n",
            DiskSim,
            r#"line 1: expected 5 space-separated fields "arrival_time_ms device_number block_number request_size request_flags", found 4 in "1.5 0 8 8""#,
        ),
        (
            "1.5 0 8 8 1\n",
            MqSim,
            r#"line 1: expected a time in whole nanoseconds (a decimal time suggests format = "disksim", in milliseconds) in field "arrival_time_ns", found "1.5""#,
        ),
        (
            "1,hm,0,Delete,0,512,1\n",
            Msr,
            r#"line 1: expected "Read" or "Write" in field "Type", found "Delete""#,
        ),
        (
            "1,hm,0,Read,0,0,1\n",
            Msr,
            r#"line 1: expected a non-zero size in field "Size", found "0""#,
        ),
        (
            "0,1,512,x,0.5\n",
            Umass,
            r#"line 1: expected "r" or "w" in field "Opcode", found "x""#,
        ),
        (
            "0,1,512,w,-0.5\n",
            Umass,
            r#"line 1: expected a time in seconds in field "Timestamp", found "-0.5""#,
        ),
        (
            "1,D,0,512,1\n",
            Alibaba,
            r#"line 1: expected "R" or "W" in field "opcode", found "D""#,
        ),
        (
            "1,W,0,512,1e6\n",
            Alibaba,
            r#"line 1: expected a time in microseconds in field "timestamp", found "1e6""#,
        ),
        (
            "1,W,0,512,1000000000000000000000000000000000000000\n",
            Alibaba,
            r#"line 1: expected a time in microseconds in field "timestamp", found "1000000000000000000000000000000000000000""#,
        ),
        (
            "1,W,18446744073709551615,512,1\n",
            Alibaba,
            r#"line 1: expected an extent that ends below 2^64 bytes in field "offset", found "18446744073709551615""#,
        ),
        (
            "1,1,2a,512,36028797018963968\n",
            CloudPhysics,
            r#"line 1: expected a sector number below 2^55 in field "lbn", found "36028797018963968""#,
        ),
        (
            "version,time,size,op,lbn\n",
            CloudPhysics,
            r#"line 1: expected the header "version,time,op,size,lbn", found "version,time,size,op,lbn""#,
        ),
        (
            "1,W,0,512,0\n1,W,0,512,18446744073709551615\n",
            Alibaba,
            r#"line 2: expected a time within 584 years of the first record (after time_scale) in field "timestamp", found "18446744073709551615""#,
        ),
    ];
    for &(text, format, want) in cases {
        assert_eq!(errors(text, format), [want], "{format}: {text:?}");
    }
}

#[test]
fn timestamps_may_not_go_backwards() {
    let text = "1,5633898,2a,512,1\n1,5633898,2a,512,2\n1,5633897,28,512,3\n1,5633899,28,512,3\n";
    let results = read_str(text, TraceFormat::CloudPhysics, TraceOptions::default());
    let messages: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().map(|r| r.time_ns).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(
        messages,
        [
            Ok(0),
            Ok(0),
            Err(r#"line 3: expected a time not earlier than the previous record's "5633898" in field "time", found "5633897""#.to_string()),
            Ok(1_000_000_000),
        ],
        "reading goes on after a bad line"
    );
    assert_eq!(
        results[2].as_ref().err().and_then(TraceError::line),
        Some(3)
    );
}

#[test]
fn empty_traces_are_an_error() {
    for text in ["", "\n\n", "# nothing\n", "version,time,op,size,lbn\n"] {
        assert_eq!(
            error(text, TraceFormat::CloudPhysics),
            "trace is empty: no I/O records",
            "{text:?}"
        );
        let skipping = TraceOptions {
            skip_bad_lines: true,
            ..Default::default()
        };
        let all: Vec<_> = read_str(text, TraceFormat::CloudPhysics, skipping)
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        assert_eq!(all, [Err("trace is empty: no I/O records".to_string())]);
    }
}

#[test]
fn skip_bad_lines_counts_and_goes_on() {
    let text = "0,1,512,w,1\n0,1,0,w,2\nzz\n0,1,512,w,0.5\n\u{0}\u{ff}\n0,1,512,r,3\n";
    let options = TraceOptions {
        skip_bad_lines: true,
        ..Default::default()
    };
    let mut reader = TraceReader::new(text.as_bytes(), TraceFormat::Umass, options);
    let times: Vec<_> = reader
        .by_ref()
        .map(|r| r.map(|r| r.time_ns).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(times, [Ok(0), Ok(2_000_000_000)]);
    assert_eq!(reader.skipped(), 4);

    let mut reader = TraceReader::new("zz\n0,1,0,w,2\n".as_bytes(), TraceFormat::Umass, options);
    let all: Vec<_> = reader
        .by_ref()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect();
    assert_eq!(all, [Err("trace is empty: no I/O records".to_string())]);
    assert_eq!(reader.skipped(), 2);
}

#[test]
fn undecodable_and_overlong_lines() {
    let bytes = b"1,W,0,512,1\n1,W,\xff,512,1\n".to_vec();
    let results: Vec<_> =
        TraceReader::new(&bytes[..], TraceFormat::Alibaba, TraceOptions::default()).collect();
    assert_eq!(
        results[1]
            .as_ref()
            .err()
            .map(ToString::to_string)
            .as_deref(),
        Some("line 2: expected UTF-8 text, found other bytes")
    );

    let long = format!("1,W,0,512,1\n{}\n1,W,0,512,2\n", "9".repeat(MAX_LINE + 1));
    let results: Vec<_> = read_str(&long, TraceFormat::Alibaba, TraceOptions::default())
        .into_iter()
        .map(|r| r.map(|r| r.time_ns).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(
        results,
        [
            Ok(0),
            Err("line 2: expected a line of at most 65536 bytes, found a longer one".to_string()),
            Ok(1_000)
        ]
    );
}

/// Fails after giving `good` bytes.
struct FailingReader {
    good: &'static [u8],
}

impl io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good.is_empty() {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.good.len());
        buf[..n].copy_from_slice(&self.good[..n]);
        self.good = &self.good[n..];
        Ok(n)
    }
}

#[test]
fn io_errors_end_the_trace() {
    let reader = BufReader::new(FailingReader {
        good: b"1,W,0,512,1\n1,W,0,",
    });
    let options = TraceOptions {
        skip_bad_lines: true,
        ..Default::default()
    };
    let results: Vec<_> = TraceReader::new(reader, TraceFormat::Alibaba, options)
        .map(|r| r.map(|r| r.time_ns).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(
        results,
        [
            Ok(0),
            Err("line 2: cannot read the trace: disk on fire".to_string())
        ]
    );

    let missing = repo_trace("no-such-trace.csv");
    let message = TraceReader::open(&missing, TraceFormat::Msr, TraceOptions::default())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        message,
        Some(format!(
            "cannot open trace {}: No such file or directory (os error 2)",
            missing.display()
        ))
    );
}

#[test]
fn bad_time_scale_is_the_first_item() {
    for scale in [-1.0, f64::NAN, f64::INFINITY] {
        let options = TraceOptions {
            time_scale: scale,
            ..Default::default()
        };
        let all: Vec<_> = read_str("1,W,0,512,1\n", TraceFormat::Alibaba, options)
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        assert_eq!(
            all,
            [Err(format!(
                "expected a time_scale that is a finite number >= 0, found {scale}"
            ))]
        );
    }
}

/// A trace path that is not a regular file is refused with what it is, before opening it (a
/// FIFO would block the open until something wrote to it).
#[test]
fn paths_that_are_not_files_say_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "mkfifo");
    for (path, kind) in [
        (dir.path(), "a directory"),
        (Path::new("/dev/null"), "a character device"),
        (fifo.as_path(), "a FIFO (named pipe)"),
    ] {
        let message = TraceReader::open(path, TraceFormat::MqSim, TraceOptions::default())
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            message,
            Some(format!(
                "cannot read trace {}: expected a regular file, found {kind}",
                path.display()
            ))
        );
    }
}
