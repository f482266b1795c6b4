//! Timer triggers: config validation (messages name the field), the instants of interval and
//! cron schedules (zones, DST), and the pure `next_fire` decision, by table and by property.

use proptest::prelude::*;
use rjobs_flow::timer::{assign_keys, next_fire, parse_schedule, timers_of, Decision, Schedule};
use rjobs_flow::{envelope, flow_json, parse_flow};
use serde_json::{json, Value};

/// 2026-03-01T00:00:00Z.
const T0: i64 = 1_772_323_200_000;
const S: i64 = 1_000;
const MIN: i64 = 60 * S;
const HOUR: i64 = 60 * MIN;

fn sched(config: Value) -> Schedule {
    parse_schedule(&config, "triggers[0]").unwrap_or_else(|e| panic!("{config}: {e}"))
}

fn timer_flow(config: Value) -> Value {
    json!({
        "name": "t",
        "triggers": [{"type": "timer", "config": config, "outputIds": [["d"]]}],
        "nodes": [{"id": "d", "type": "DebugNode", "config": {"message": "tick"}, "outputIds": [[]]}],
    })
}

#[test]
fn validation_table() {
    let good = [
        json!({"seconds": 1}),
        json!({"seconds": 300}),
        json!({"seconds": 31_536_000}),
        json!({"cron": "*/5 * * * *"}),
        json!({"cron": "0 9 * * 1-5", "tz": "America/New_York"}),
        json!({"cron": "0 0 9 * * 1,2,3,4,5", "tz": "Europe/Berlin"}),
        json!({"cron": "30 2 * * SUN", "tz": "UTC"}),
        json!({"cron": "@daily"}),
        json!({"cron": "0 12 1 JAN *", "tz": null}),
    ];
    for c in good {
        let f = parse_flow(&timer_flow(c.clone()));
        assert!(f.is_ok(), "{c} should be accepted: {f:?}");
    }
    let bad = [
        (json!({}), "triggers[0].config: a timer needs seconds"),
        (
            json!({"seconds": 5, "cron": "* * * * *"}),
            "triggers[0].config: give either seconds",
        ),
        (
            json!({"seconds": 0}),
            "triggers[0].config.seconds: must be a whole number",
        ),
        (
            json!({"seconds": -3}),
            "triggers[0].config.seconds: must be a whole number",
        ),
        (
            json!({"seconds": 1.5}),
            "triggers[0].config.seconds: must be a whole number",
        ),
        (
            json!({"seconds": "60"}),
            "triggers[0].config.seconds: must be a whole number",
        ),
        (
            json!({"seconds": 31_536_001}),
            "triggers[0].config.seconds: must be a whole number",
        ),
        (
            json!({"seconds": 60, "tz": "UTC"}),
            "triggers[0].config.tz: only applies to a cron",
        ),
        (
            json!({"cron": 5}),
            "triggers[0].config.cron: must be a string",
        ),
        (
            json!({"cron": ""}),
            "triggers[0].config.cron: \"\" has 0 fields",
        ),
        (
            json!({"cron": "* * *"}),
            "triggers[0].config.cron: \"* * *\" has 3 fields",
        ),
        (
            json!({"cron": "* * * * * * *"}),
            "triggers[0].config.cron: \"* * * * * * *\" has 7 fields",
        ),
        (
            json!({"cron": "61 * * * *"}),
            "triggers[0].config.cron: \"61 * * * *\" is not a valid cron pattern",
        ),
        (
            json!({"cron": "* 25 * * *"}),
            "triggers[0].config.cron: \"* 25 * * *\" is not a valid cron pattern",
        ),
        (
            json!({"cron": "every minute please"}),
            "triggers[0].config.cron: ",
        ),
        (
            json!({"cron": "0 0 30 2 *"}),
            "triggers[0].config.cron: \"0 0 30 2 *\" never matches a date",
        ),
        (
            json!({"cron": "@reboot"}),
            "triggers[0].config.cron: \"@reboot\" is not a valid cron pattern",
        ),
        (
            json!({"cron": "* * * * *", "tz": "Mars/Olympus"}),
            "triggers[0].config.tz: \"Mars/Olympus\" is not an IANA time zone",
        ),
        (
            json!({"cron": "* * * * *", "tz": ""}),
            "triggers[0].config.tz: \"\" is not an IANA time zone",
        ),
        (
            json!({"cron": "* * * * *", "tz": 3}),
            "triggers[0].config.tz: must be a string",
        ),
    ];
    for (c, want) in bad {
        let e = parse_flow(&timer_flow(c.clone()))
            .expect_err(&format!("{c} should be rejected"))
            .to_string();
        assert!(
            e.starts_with(want),
            "{c}: got {e:?}, want it to start with {want:?}"
        );
    }
    let cfg_not_object = json!({"name": "t", "triggers": [{"type": "timer", "config": 5}]});
    assert_eq!(
        parse_flow(&cfg_not_object).unwrap_err().to_string(),
        "triggers[0].config: must be an object"
    );
}

#[test]
fn keys_are_optional_unique_and_assigned() {
    let two = json!({
        "name": "t",
        "triggers": [
            {"type": "timer", "config": {"seconds": 5}},
            {"type": "timer", "key": "fixed", "config": {"cron": "0 * * * *"}},
            {"type": "timer", "config": {"seconds": 7}},
        ],
    });
    let mut f = parse_flow(&two).unwrap();
    let mut n = 0;
    assign_keys(&mut f, || {
        n += 1;
        format!("gen{n}")
    });
    let keys: Vec<_> = f.triggers.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["gen1", "fixed", "gen2"]);
    let timers: Vec<_> = timers_of(&f).into_iter().map(|(i, k, _)| (i, k)).collect();
    assert_eq!(timers, [(0, "gen1"), (1, "fixed"), (2, "gen2")]);
    // The stored shape keeps the keys, so a reload fires under the same ids.
    let back = parse_flow(&flow_json(&f)).unwrap();
    assert_eq!(back.triggers[0].key, "gen1");

    let dup = json!({"name": "t", "triggers": [
        {"type": "timer", "key": "k", "config": {"seconds": 5}},
        {"type": "timer", "key": "k", "config": {"seconds": 6}},
    ]});
    assert_eq!(
        parse_flow(&dup).unwrap_err().to_string(),
        "triggers[1].key: duplicate timer key \"k\" (also triggers[0])"
    );
    let long = json!({"name": "t", "triggers": [
        {"type": "timer", "key": "x".repeat(65), "config": {"seconds": 5}},
    ]});
    assert!(parse_flow(&long)
        .unwrap_err()
        .to_string()
        .starts_with("triggers[0].key: "));

    f.enabled = false;
    assert!(timers_of(&f).is_empty(), "a disabled flow has no timers");
}

#[test]
fn timer_payload_is_the_originals() {
    let mut f = parse_flow(&timer_flow(json!({"seconds": 60}))).unwrap();
    assign_keys(&mut f, || "tk".into());
    let p = envelope(
        &f,
        "flow1",
        0,
        "app1",
        "App",
        json!({}),
        "2026-03-01T00:01:00.000Z",
    );
    assert_eq!(
        p,
        json!({
            "applicationId": "app1", "applicationName": "App", "data": {}, "flowId": "flow1",
            "flowName": "t", "flowVersion": "develop", "globals": {},
            "time": "2026-03-01T00:01:00.000Z", "triggerId": "tk", "triggerType": "timer",
        })
    );
}

#[test]
fn interval_instants_are_epoch_multiples() {
    let s = sched(json!({"seconds": 60}));
    assert_eq!(s.next_after(T0), Some(T0 + MIN));
    assert_eq!(s.next_after(T0 - 1), Some(T0));
    assert_eq!(s.latest_at_or_before(T0), Some(T0));
    assert_eq!(s.latest_at_or_before(T0 + MIN - 1), Some(T0));
    let s7 = sched(json!({"seconds": 7}));
    let n = s7.next_after(T0).unwrap();
    assert_eq!(n % (7 * S), 0);
    assert!(n > T0 && n <= T0 + 7 * S);
}

#[test]
fn cron_instants_follow_the_zone_and_dst() {
    // 09:00 New York on weekdays. 2026-03-02 is a Monday; EST is UTC-5 until 2026-03-08.
    let s = sched(json!({"cron": "0 9 * * 1-5", "tz": "America/New_York"}));
    assert_eq!(s.next_after(T0), Some(T0 + 24 * HOUR + 14 * HOUR));
    // After the switch to EDT (UTC-4) on Sunday 2026-03-08, 09:00 is 13:00 UTC.
    let mon9 = T0 + 8 * 24 * HOUR + 13 * HOUR; // Monday 2026-03-09 13:00Z
    assert_eq!(s.next_after(mon9 - 1), Some(mon9));
    assert_eq!(s.latest_at_or_before(mon9 + 1), Some(mon9));
    // Seconds-first patterns work too, and a cron instant is never "after" itself.
    let every10 = sched(json!({"cron": "*/10 * * * * *"}));
    assert_eq!(every10.next_after(T0), Some(T0 + 10 * S));
    assert_eq!(every10.next_after(T0 + 500), Some(T0 + 10 * S));
    assert_eq!(every10.latest_at_or_before(T0 + 9_999), Some(T0));
    // Default zone is UTC.
    let daily = sched(json!({"cron": "0 0 * * *"}));
    assert_eq!(daily.latest_at_or_before(T0 + 5 * HOUR), Some(T0));
}

#[test]
fn next_fire_table() {
    let every = sched(json!({"seconds": 10}));
    let cron = sched(json!({"cron": "*/15 * * * *"}));
    let d = |fire: Option<i64>, next_wake: i64| Decision { fire, next_wake };
    let cases: Vec<(&str, &Schedule, Option<i64>, i64, Decision)> = vec![
        (
            "nothing known: wait",
            &every,
            None,
            T0 + 3 * S,
            d(None, T0 + 10 * S),
        ),
        (
            "exactly at the next instant",
            &every,
            Some(T0),
            T0 + 10 * S,
            d(Some(T0 + 10 * S), T0 + 20 * S),
        ),
        (
            "a little late",
            &every,
            Some(T0),
            T0 + 12 * S,
            d(Some(T0 + 10 * S), T0 + 20 * S),
        ),
        (
            "already fired this one",
            &every,
            Some(T0 + 10 * S),
            T0 + 12 * S,
            d(None, T0 + 20 * S),
        ),
        (
            "between instants",
            &every,
            Some(T0),
            T0 + 5 * S,
            d(None, T0 + 10 * S),
        ),
        (
            "down for an hour: the latest only",
            &every,
            Some(T0),
            T0 + HOUR + 4 * S,
            d(Some(T0 + HOUR), T0 + HOUR + 10 * S),
        ),
        (
            "saved after the last instant: not missed",
            &every,
            Some(T0 + 3 * S),
            T0 + 9 * S,
            d(None, T0 + 10 * S),
        ),
        (
            "saved, then an instant passed",
            &every,
            Some(T0 + 3 * S),
            T0 + 10 * S,
            d(Some(T0 + 10 * S), T0 + 20 * S),
        ),
        (
            "cron on time",
            &cron,
            Some(T0),
            T0 + 15 * MIN,
            d(Some(T0 + 15 * MIN), T0 + 30 * MIN),
        ),
        (
            "cron after a day down",
            &cron,
            Some(T0),
            T0 + 24 * HOUR + 20 * MIN,
            d(Some(T0 + 24 * HOUR + 15 * MIN), T0 + 24 * HOUR + 30 * MIN),
        ),
        (
            "cron not yet",
            &cron,
            Some(T0),
            T0 + 14 * MIN,
            d(None, T0 + 15 * MIN),
        ),
    ];
    for (name, s, last, now, want) in cases {
        assert_eq!(next_fire(s, last, now), want, "{name}");
    }
}

fn arb_schedule() -> impl Strategy<Value = Schedule> {
    prop_oneof![
        (1i64..5_000).prop_map(|n| sched(json!({"seconds": n}))),
        prop::sample::select(vec![
            "* * * * *",
            "*/7 * * * * *",
            "0 */2 * * *",
            "15,45 9-17 * * 1-5",
            "0 2 * * SUN",
        ])
        .prop_flat_map(|c| {
            prop::sample::select(vec![
                "UTC",
                "America/New_York",
                "Australia/Lord_Howe",
                "Asia/Kolkata",
            ])
            .prop_map(move |tz| sched(json!({"cron": c, "tz": tz})))
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A scheduler that calls `next_fire` at arbitrary times (including long gaps, as after
    /// downtime) and records what it fires: no instant twice, at most one per call, every fired
    /// time is an instant of the schedule at or before the call, and the wake-up is after now.
    #[test]
    fn never_twice_never_a_burst_always_ahead(
        s in arb_schedule(),
        start in 0i64..(400 * 24 * HOUR),
        steps in prop::collection::vec(0i64..(3 * HOUR), 1..40),
    ) {
        let mut now = T0 + start;
        let mut last = Some(now);
        let mut fired: Vec<i64> = Vec::new();
        for step in steps {
            now += step;
            let d = next_fire(&s, last, now);
            prop_assert!(d.next_wake > now, "next_wake {} not after now {}", d.next_wake, now);
            if let Some(i) = d.fire {
                prop_assert!(i <= now);
                prop_assert!(last.is_none_or(|l| i > l), "fired {i} not after {last:?}");
                prop_assert!(!fired.contains(&i), "fired {i} twice");
                prop_assert_eq!(s.latest_at_or_before(i), Some(i), "{} is an instant", i);
                // Nothing between the fired instant and now was left out: it is the latest.
                prop_assert!(s.next_after(i).is_none_or(|n| n > now));
                fired.push(i);
                last = Some(i);
            }
            // A second call at the same time fires nothing more.
            prop_assert_eq!(next_fire(&s, last, now).fire, None);
        }
        prop_assert!(fired.windows(2).all(|w| w[0] < w[1]));
    }

    /// Waking exactly at each `next_wake` fires every instant, one per call, in order.
    #[test]
    fn waking_on_time_fires_every_instant(secs in 1i64..600, start in 0i64..(100 * 24 * HOUR)) {
        let s = sched(json!({"seconds": secs}));
        let mut now = T0 + start;
        let mut last = Some(now);
        let mut wake = next_fire(&s, last, now).next_wake;
        for _ in 0..20 {
            now = wake;
            let d = next_fire(&s, last, now);
            prop_assert_eq!(d.fire, Some(now));
            prop_assert_eq!(d.next_wake, now + secs * S);
            last = d.fire;
            wake = d.next_wake;
        }
    }
}
