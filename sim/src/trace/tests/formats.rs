//! Good traces of every format read as their documentation says.

use super::*;
use crate::units::human_bytes;

#[test]
fn cloudphysics_2h_trace() {
    let Some(path) = library_trace("cloudphysics_2h_trace", "cloudphysics-2h.csv") else {
        return;
    };
    let records = read_file(&path, TraceFormat::CloudPhysics, TraceOptions::default());
    let writes: Vec<_> = records.iter().filter(|r| r.op == Op::Write).collect();
    let write_bytes: u64 = writes.iter().map(|r| r.len).sum();
    println!(
        "cloudphysics-2h.csv: {} records, {} written",
        records.len(),
        human_bytes(write_bytes)
    );
    assert_eq!(records.len(), 113_872);
    assert_eq!(writes.len(), 66_898);
    assert_eq!(records.len() - writes.len(), 46_974);
    assert_eq!(write_bytes, 2_408_565_760);
    assert_eq!(human_bytes(write_bytes), "2.4 GB");
    assert_sorted_and_valid(&records);
    assert_eq!(
        records.last().map(|r| r.time_ns),
        Some(7_200_000_000_000),
        "2 hours"
    );
    assert!(records.iter().all(|r| r.device == 0 && r.offset % 512 == 0));
    assert_eq!(
        records[0],
        TraceRecord {
            time_ns: 0,
            op: Op::Write,
            offset: 42_932_745 * 512,
            len: 512,
            device: 0
        }
    );
}

#[test]
fn tpcc_small_trace() {
    let records = read_file(
        &repo_trace("tpcc-small.trace"),
        TraceFormat::MqSim,
        TraceOptions::default(),
    );
    let writes = records.iter().filter(|r| r.op == Op::Write).count();
    assert_eq!(writes, 2_618);
    // The README says 7,000 records; the file holds 6,999 lines.
    assert_eq!(records.len(), 6_999);
    assert_sorted_and_valid(&records);
    assert_eq!(
        records.last().map(|r| r.time_ns),
        Some(1_075_002_000 - 938_513_000),
        "136 ms"
    );
    assert_eq!(
        records[0],
        TraceRecord {
            time_ns: 0,
            op: Op::Write,
            offset: 264_719_034 * 512,
            len: 16 * 512,
            device: 4
        }
    );
    let devices: std::collections::BTreeSet<u64> = records.iter().map(|r| r.device).collect();
    assert!(devices.len() > 1, "{devices:?}");

    let slow = read_file(
        &repo_trace("tpcc-small.trace"),
        TraceFormat::MqSim,
        TraceOptions {
            time_scale: 2.0,
            ..Default::default()
        },
    );
    assert_eq!(slow.len(), records.len());
    assert!(slow
        .iter()
        .zip(&records)
        .all(|(s, r)| s.time_ns == 2 * r.time_ns && s.offset == r.offset));
}

#[test]
fn one_line_of_each_format() {
    let one = |text: &str, format| {
        let all = read_str(text, format, TraceOptions::default());
        assert_eq!(all.len(), 1, "{text}");
        all.into_iter()
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("{text}"))
    };
    let at_zero = |op, offset, len, device| TraceRecord {
        time_ns: 0,
        op,
        offset,
        len,
        device,
    };
    assert_eq!(
        one(
            "version,time,op,size,lbn\n1,5633898,28,6656,40409911\n",
            TraceFormat::CloudPhysics
        ),
        at_zero(Op::Read, 40_409_911 * 512, 6_656, 0)
    );
    assert_eq!(
        one("938513000 4 264719034 16 1\n", TraceFormat::MqSim),
        at_zero(Op::Read, 264_719_034 * 512, 8_192, 4)
    );
    assert_eq!(
        one(
            "128166372003061629,hm,0,Write,7014912,4096,26\n",
            TraceFormat::Msr
        ),
        at_zero(Op::Write, 7_014_912, 4_096, 0)
    );
    assert_eq!(
        one("0,303567,3584,w,0.000000\n", TraceFormat::Umass),
        at_zero(Op::Write, 303_567 * 512, 3_584, 0)
    );
    assert_eq!(
        one(
            "419,R,8062218240,16384,1577808000000064\n",
            TraceFormat::Alibaba
        ),
        at_zero(Op::Read, 8_062_218_240, 16_384, 419)
    );
    assert_eq!(
        "mqsim".parse::<TraceFormat>().ok(),
        Some(TraceFormat::MqSim)
    );
}

#[test]
fn times_are_relative_to_the_first_record_and_scaled() {
    let text = "0,1000,4096,w,5\n1,1000,4096,r,5\n0,2000,512,w,7.5\n";
    let times = |scale| -> Vec<u64> {
        read_str(
            text,
            TraceFormat::Umass,
            TraceOptions {
                time_scale: scale,
                ..Default::default()
            },
        )
        .into_iter()
        .map(|r| r.map(|r| r.time_ns).unwrap_or(u64::MAX))
        .collect()
    };
    assert_eq!(times(1.0), [0, 0, 2_500_000_000], "equal times are fine");
    assert_eq!(times(2.0), [0, 0, 5_000_000_000]);
    assert_eq!(times(0.1), [0, 0, 250_000_000]);
    assert_eq!(times(0.0), [0, 0, 0]);
    // FILETIME ticks of 100 ns.
    let msr = "128166372003061629,hm,1,Read,0,512,26\n128166372003061639,hm,1,Read,0,512,26\n";
    let t: Vec<u64> = read_str(msr, TraceFormat::Msr, TraceOptions::default())
        .into_iter()
        .filter_map(|r| r.ok().map(|r| r.time_ns))
        .collect();
    assert_eq!(t, [0, 1_000]);
    let alibaba = "1,W,0,512,1577808000000064\n1,W,0,512,1577808000000065\n";
    let t: Vec<u64> = read_str(alibaba, TraceFormat::Alibaba, TraceOptions::default())
        .into_iter()
        .filter_map(|r| r.ok().map(|r| r.time_ns))
        .collect();
    assert_eq!(t, [0, 1_000]);
}

#[test]
fn blank_lines_comments_headers_and_crlf_are_ignored() {
    let text = "\r\n# from libCacheSim\r\nversion,time,op,size,lbn\r\n  \r\n1,7,2a,512,1\r\n#1,8,2a,512,1\n1,7,2A,1024,2";
    let records: Vec<_> = read_str(text, TraceFormat::CloudPhysics, TraceOptions::default())
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].len, 1_024);
    // UMass with or without its header; Alibaba and MSR files have none but one is accepted.
    for text in [
        "ASU,LBA,Size,Opcode,Timestamp\n0,1,512,r,0.5\n",
        "0,1,512,r,0.5\n",
        "0,1,512,R,0.5,extra,fields\n",
    ] {
        assert_eq!(
            read_str(text, TraceFormat::Umass, TraceOptions::default()).len(),
            1,
            "{text}"
        );
    }
    assert_eq!(
        errors(
            "device_id,opcode,offset,length,timestamp\n1,W,0,512,1\n",
            TraceFormat::Alibaba
        ),
        Vec::<String>::new()
    );
}

#[test]
fn non_io_scsi_commands_are_skipped_silently() {
    let text = "1,1,12,0,0\n1,1,2a,512,8\n1,0,00,0,0\n1,2,28,512,8\n1,3,35,0,0\n";
    let mut reader = TraceReader::new(
        text.as_bytes(),
        TraceFormat::CloudPhysics,
        TraceOptions::default(),
    );
    let ops: Vec<_> = reader
        .by_ref()
        .map(|r| r.map(|r| (r.time_ns, r.op)).map_err(|e| e.to_string()))
        .collect();
    assert_eq!(
        ops,
        [Ok((0, Op::Write)), Ok((1_000_000_000, Op::Read))],
        "the earlier INQUIRY is not a record"
    );
    assert_eq!(reader.skipped(), 0);
    assert_eq!(
        error(
            "version,time,op,size,lbn\n1,1,12,0,0\n",
            TraceFormat::CloudPhysics
        ),
        "trace is empty: no I/O records"
    );
}

#[test]
fn format_names() {
    for format in TraceFormat::ALL {
        assert_eq!(format.to_string().parse::<TraceFormat>().ok(), Some(format));
        let json = serde_json::to_string(&format).unwrap_or_default();
        assert_eq!(json, format!("\"{format}\""));
        assert_eq!(
            serde_json::from_str::<TraceFormat>(&json).ok(),
            Some(format)
        );
    }
    assert_eq!(
        serde_json::from_str::<TraceFormat>("\"mqsim\"").ok(),
        Some(TraceFormat::MqSim)
    );
    let expected = r#"expected a trace format (cloudphysics, disksim, mqsim, msr, umass, alibaba), found "CSV""#;
    assert_eq!(
        "CSV"
            .parse::<TraceFormat>()
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some(expected)
    );
    assert_eq!(
        serde_json::from_str::<TraceFormat>("\"CSV\"")
            .err()
            .map(|e| e.to_string()),
        Some(format!("{expected} at line 1 column 5"))
    );
}

/// DiskSim's own format: milliseconds as decimals, 512-byte blocks, hex flags with bit 0 for a
/// read (other bits, e.g. 0x80 synchronous, leave a write a write).
#[test]
fn disksim_ascii_in_milliseconds_with_hex_flags() {
    let text =
        "0.000000 0 1000 8 1\n1.500000 2 2048 16 0\n2.25 1 0 1 80000001\n10.000001 0 7 4 0x80\n";
    let records: Vec<_> = read_str(text, TraceFormat::DiskSim, TraceOptions::default())
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect();
    let record = |time_ns, op, block: u64, blocks: u64, device| {
        Ok(TraceRecord {
            time_ns,
            op,
            offset: block * 512,
            len: blocks * 512,
            device,
        })
    };
    assert_eq!(
        records,
        [
            record(0, Op::Read, 1000, 8, 0),
            record(1_500_000, Op::Write, 2048, 16, 2),
            record(2_250_000, Op::Read, 0, 1, 1),
            record(10_000_001, Op::Write, 7, 4, 0),
        ]
    );
}

/// The same line means different things in the two formats: MQSim's first field is whole
/// nanoseconds and its last is 0 or 1; DiskSim's are milliseconds and a hex bit field.
#[test]
fn mqsim_and_disksim_differ_in_time_unit_and_flags() {
    let text = "100 0 8 8 0\n250 0 8 8 1\n";
    let times = |format| -> Vec<_> {
        read_str(text, format, TraceOptions::default())
            .into_iter()
            .map(|r| r.map(|r| (r.time_ns, r.op)).map_err(|e| e.to_string()))
            .collect()
    };
    assert_eq!(
        times(TraceFormat::MqSim),
        [Ok((0, Op::Write)), Ok((150, Op::Read))]
    );
    assert_eq!(
        times(TraceFormat::DiskSim),
        [Ok((0, Op::Write)), Ok((150_000_000, Op::Read))]
    );
}

/// A UTF-8 byte order mark before the first line (as spreadsheet programs write) is not data;
/// anywhere else it is.
#[test]
fn a_byte_order_mark_at_the_start_is_skipped() {
    let text = "\u{feff}version,time,op,size,lbn\n1,7,2a,512,1\n";
    assert_eq!(
        errors(text, TraceFormat::CloudPhysics),
        Vec::<String>::new()
    );
    let text = "\u{feff}0,1,512,w,0.5\n";
    assert_eq!(
        read_str(text, TraceFormat::Umass, TraceOptions::default()).len(),
        1
    );
    assert_eq!(
        error("0,1,512,w,0.5\n\u{feff}0,1,512,w,0.5\n", TraceFormat::Umass),
        "line 2: expected an ASU number in field \"ASU\", found \"\\u{feff}0\""
    );
}
