use super::*;

fn pct(trigger: Trigger, v: i64) -> Rule {
    Rule {
        trigger,
        event_type: None,
        rate: CommissionRule {
            kind: CommissionType::Percent,
            value: Dec4::from_scaled(v * 10_000),
        },
        currency: None,
        recurring: None,
        recurring_months: None,
    }
}

fn at(first: bool, anchor: Option<i64>, now: i64, currency: &Currency) -> Occasion<'_> {
    Occasion {
        event_type: "sale",
        currency,
        value_minor: 10_000,
        program_currency: currency,
        first,
        anchor: anchor.map(Timestamp::from_millis),
        at: Timestamp::from_millis(now),
    }
}

#[test]
fn first_then_subsequent() {
    let usd = Currency::usd();
    let set = RuleSet::new(vec![pct(Trigger::First, 30), pct(Trigger::Subsequent, 10)]).unwrap();
    assert_eq!(
        set.price(&at(true, None, 0, &usd)),
        Price::Earned {
            amount_minor: 3000,
            trigger: Trigger::First
        }
    );
    assert_eq!(
        set.price(&at(false, Some(0), 1, &usd)),
        Price::Earned {
            amount_minor: 1000,
            trigger: Trigger::Subsequent
        }
    );
}

#[test]
fn specific_beats_every_and_months_end_a_rule() {
    let usd = Currency::usd();
    let mut sub = pct(Trigger::Subsequent, 10);
    sub.recurring_months = Some(1);
    let set = RuleSet::new(vec![pct(Trigger::Every, 5), sub]).unwrap();
    let jan31 = Timestamp::parse_rfc3339("2026-01-31T00:00:00Z")
        .unwrap()
        .millis();
    let feb27 = Timestamp::parse_rfc3339("2026-02-27T00:00:00Z")
        .unwrap()
        .millis();
    let feb28 = Timestamp::parse_rfc3339("2026-02-28T00:00:00Z")
        .unwrap()
        .millis();
    assert_eq!(
        set.price(&at(false, Some(jan31), feb27, &usd)),
        Price::Earned {
            amount_minor: 1000,
            trigger: Trigger::Subsequent
        }
    );
    // One month after Jan 31 is Feb 28: the subsequent rule has ended, `every` remains.
    assert_eq!(
        set.price(&at(false, Some(jan31), feb28, &usd)),
        Price::Earned {
            amount_minor: 500,
            trigger: Trigger::Every
        }
    );
}

#[test]
fn fixed_rules_pay_only_in_their_currency() {
    let usd = Currency::usd();
    let jpy = Currency::parse("JPY").unwrap();
    let set = RuleSet::new(vec![Rule {
        rate: CommissionRule {
            kind: CommissionType::Fixed,
            value: Dec4::from_scaled(50 * 10_000),
        },
        ..pct(Trigger::Every, 0)
    }])
    .unwrap();
    let mut o = at(true, None, 0, &jpy);
    o.program_currency = &usd;
    assert_eq!(set.price(&o), Price::Nothing("currency_mismatch"));
    assert_eq!(
        set.price(&at(true, None, 0, &usd)),
        Price::Earned {
            amount_minor: 5000,
            trigger: Trigger::Every
        }
    );
}

#[test]
fn legacy_non_recurring_is_first_only_and_round_trips() {
    let usd = Currency::usd();
    let set = RuleSet::single(pct(Trigger::Every, 20).rate, false);
    assert!(!set.recurs());
    assert!(!set.legacy().recurring);
    assert_eq!(
        set.price(&at(false, Some(0), 1, &usd)),
        Price::Nothing("not_recurring")
    );
    assert_eq!(RuleSet::from_storage(&set.to_storage()).unwrap(), set);
    assert!(RuleSet::new(vec![]).is_err());
}
