//! Property tests: no input panics the readers, and written records read back.

use super::*;
use proptest::prelude::*;

/// How many lines `BufRead::lines` would see: the most items a reader may yield, but an
/// empty input still yields its one error.
fn line_count(bytes: &[u8]) -> usize {
    let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
    let tail = usize::from(!bytes.is_empty() && bytes.last() != Some(&b'\n'));
    (newlines + tail).max(1)
}

fn check_never_panics(bytes: &[u8]) -> Result<(), TestCaseError> {
    for format in TraceFormat::ALL {
        for skip_bad_lines in [false, true] {
            let options = TraceOptions {
                skip_bad_lines,
                time_scale: 1.5,
            };
            let items: Vec<_> = TraceReader::new(bytes, format, options).collect();
            prop_assert!(
                items.len() <= line_count(bytes),
                "{format}: {} items",
                items.len()
            );
            let records: Vec<_> = items.iter().filter_map(|r| r.as_ref().ok()).collect();
            for pair in records.windows(2) {
                prop_assert!(pair[0].time_ns <= pair[1].time_ns);
            }
            prop_assert!(records
                .iter()
                .all(|r| r.len > 0 && r.offset.checked_add(r.len).is_some()));
        }
    }
    Ok(())
}

/// Lines made of plausible tokens reach the field parsers, which random bytes rarely do.
fn token_lines() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        "[0-9]{1,21}",
        "[0-9]{1,12}\\.[0-9]{0,20}",
        Just("2a".to_string()),
        Just("28".to_string()),
        Just("0".to_string()),
        "[rRwW]|Read|Write|version|ASU|-1|0x[0-9a-f]{0,3}",
        "[ -~]{0,6}",
    ];
    let line = (
        proptest::collection::vec(token, 0..9),
        prop_oneof![Just(","), Just(" ")],
    )
        .prop_map(|(tokens, sep)| tokens.join(sep));
    proptest::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check_never_panics(&bytes)?;
    }

    #[test]
    fn arbitrary_lines_never_panic(text in token_lines()) {
        check_never_panics(text.as_bytes())?;
    }

    #[test]
    fn written_records_read_back(mut records in proptest::collection::vec((0u64..1 << 40, any::<bool>(), 0u64..1 << 40, 1u64..1 << 20, 0u64..1000), 1..40)) {
        records.sort_by_key(|r| r.0);
        let op = |write: bool| if write { Op::Write } else { Op::Read };
        let text: String = records
            .iter()
            .map(|&(t, write, offset, len, device)| format!("{device},{},{offset},{len},{t}\n", if write { "W" } else { "R" }))
            .collect();
        let read: Vec<_> = read_str(&text, TraceFormat::Alibaba, TraceOptions::default())
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        let first = records[0].0;
        let want: Vec<_> = records
            .iter()
            .map(|&(t, write, offset, len, device)| Ok(TraceRecord { time_ns: (t - first) * 1_000, op: op(write), offset, len, device }))
            .collect();
        prop_assert_eq!(read, want);
    }
}
