//! Running check totals that cost rows only when something changes.
//!
//! Probes and status components are checked once a minute. A row of their ledger holds the
//! totals at the end of its minute *and* what each later minute adds (its rate: one check,
//! failed or not), so a subject that keeps passing, or keeps failing, needs no new row: the
//! totals at any later minute are the row's plus the rate times the minutes since. A row is
//! written only when the result changes, when a check is missed (the rate stops where checks
//! stopped), or for subjects checked less often than every minute (one row per check, no rate).
//! Windows stay exact: every minute's totals are what was really checked.

/// Checks one minute adds, or the totals up to a minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checks {
    pub checks: u64,
    pub failed: u64,
}

impl Checks {
    pub const NONE: Checks = Checks {
        checks: 0,
        failed: 0,
    };

    /// One check.
    pub fn one(failed: bool) -> Checks {
        Checks {
            checks: 1,
            failed: u64::from(failed),
        }
    }

    fn plus(self, other: Checks) -> Checks {
        Checks {
            checks: self.checks + other.checks,
            failed: self.failed + other.failed,
        }
    }

    fn times(self, minutes: i64) -> Checks {
        let n = minutes.max(0) as u64;
        Checks {
            checks: self.checks * n,
            failed: self.failed * n,
        }
    }
}

/// One ledger row: the totals at the end of `minute`, and what each later minute adds until
/// the next row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerRow {
    pub minute: i64,
    pub totals: Checks,
    pub per_minute: Checks,
}

impl LedgerRow {
    /// The totals at the end of `minute` (at or after the row's own).
    pub fn totals_at(&self, minute: i64) -> Checks {
        self.totals
            .plus(self.per_minute.times(minute - self.minute))
    }
}

/// One check, to record in a subject's ledger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Check {
    pub minute: i64,
    pub failed: bool,
    /// The minute of the subject's previous check, if known.
    pub previous: Option<i64>,
    /// Whether the subject is checked every minute (only then can a rate stand for checks).
    pub every_minute: bool,
}

/// The rows to write (insert or replace) for `check`, given the subject's latest row: none
/// while the check continues the latest row's rate.
pub fn rows_for_check(latest: Option<&LedgerRow>, check: &Check) -> Vec<LedgerRow> {
    let one = Checks::one(check.failed);
    let rate = if check.every_minute {
        one
    } else {
        Checks::NONE
    };
    let Some(latest) = latest else {
        return vec![LedgerRow {
            minute: check.minute,
            totals: one,
            per_minute: rate,
        }];
    };
    if check.minute <= latest.minute {
        // A repeated run of the same minute (or a clock that went back): the check counts in
        // the latest row, which keeps its rate.
        return vec![LedgerRow {
            totals: latest.totals.plus(one),
            ..*latest
        }];
    }
    // Unknown (the last check's record was lost): the checks are taken to have continued.
    let previous = check
        .previous
        .unwrap_or(check.minute - 1)
        .clamp(latest.minute, check.minute - 1);
    let mut rows = Vec::new();
    let before = if latest.per_minute != Checks::NONE && previous < check.minute - 1 {
        // Checks stopped after `previous`: the rate must stop there too.
        let stopped = LedgerRow {
            minute: previous + 1,
            totals: latest.totals_at(previous),
            per_minute: Checks::NONE,
        };
        rows.push(stopped);
        stopped
    } else {
        *latest
    };
    if before.per_minute == rate && rate != Checks::NONE && rows.is_empty() {
        return rows;
    }
    rows.push(LedgerRow {
        minute: check.minute,
        totals: before.totals_at(check.minute - 1).plus(one),
        per_minute: rate,
    });
    rows
}

/// The totals at the end of `minute` from a subject's newest rows (newest first). `None` when
/// the rows do not reach back to `minute` and are not all the subject has (`complete`): the
/// caller then reads that minute's row itself.
pub fn totals_from_newest(newest: &[LedgerRow], minute: i64, complete: bool) -> Option<Checks> {
    match newest.iter().find(|row| row.minute <= minute) {
        Some(row) => Some(row.totals_at(minute)),
        None if complete => Some(Checks::NONE),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(minute: i64, failed: bool, previous: Option<i64>) -> Check {
        Check {
            minute,
            failed,
            previous,
            every_minute: true,
        }
    }

    /// Plays checks through the ledger, returning its rows and how many were written.
    fn play(checks: &[Check]) -> (Vec<LedgerRow>, usize) {
        let mut rows: Vec<LedgerRow> = Vec::new();
        let mut written = 0;
        for c in checks {
            let latest = rows.iter().max_by_key(|r| r.minute).copied();
            for row in rows_for_check(latest.as_ref(), c) {
                written += 1;
                rows.retain(|r| r.minute != row.minute);
                rows.push(row);
            }
        }
        rows.sort_by_key(|r| r.minute);
        (rows, written)
    }

    fn totals_at(rows: &[LedgerRow], minute: i64) -> Checks {
        rows.iter()
            .filter(|r| r.minute <= minute)
            .max_by_key(|r| r.minute)
            .map_or(Checks::NONE, |r| r.totals_at(minute))
    }

    #[test]
    fn a_steady_subject_costs_one_row_whatever_the_minutes() {
        let checks: Vec<Check> = (0..1440)
            .map(|m| check(m, false, (m > 0).then(|| m - 1)))
            .collect();
        let (rows, written) = play(&checks);
        assert_eq!(written, 1);
        assert_eq!(
            totals_at(&rows, 1439),
            Checks {
                checks: 1440,
                failed: 0
            }
        );
        assert_eq!(
            totals_at(&rows, 99),
            Checks {
                checks: 100,
                failed: 0
            }
        );
    }

    #[test]
    fn each_change_of_result_costs_one_row_and_totals_stay_exact() {
        // Up for 10 minutes, down for 7, up again for 13.
        let failed = |m: i64| (10..17).contains(&m);
        let checks: Vec<Check> = (0..30)
            .map(|m| check(m, failed(m), (m > 0).then(|| m - 1)))
            .collect();
        let (rows, written) = play(&checks);
        assert_eq!(written, 3);
        for minute in 0..30 {
            let expected = Checks {
                checks: minute as u64 + 1,
                failed: (0..=minute).filter(|&m| failed(m)).count() as u64,
            };
            assert_eq!(totals_at(&rows, minute), expected, "minute {minute}");
        }
    }

    #[test]
    fn missed_minutes_stop_the_rate_where_the_checks_stopped() {
        let mut checks: Vec<Check> = (0..5)
            .map(|m| check(m, false, (m > 0).then(|| m - 1)))
            .collect();
        // Nothing checked in minutes 5..9.
        checks.push(check(10, false, Some(4)));
        let (rows, written) = play(&checks);
        assert_eq!(written, 3);
        assert_eq!(
            totals_at(&rows, 4),
            Checks {
                checks: 5,
                failed: 0
            }
        );
        assert_eq!(
            totals_at(&rows, 9),
            Checks {
                checks: 5,
                failed: 0
            }
        );
        assert_eq!(
            totals_at(&rows, 10),
            Checks {
                checks: 6,
                failed: 0
            }
        );
        assert_eq!(
            totals_at(&rows, 12),
            Checks {
                checks: 8,
                failed: 0
            }
        );
    }

    #[test]
    fn subjects_checked_less_often_write_a_row_per_check_without_a_rate() {
        let checks: Vec<Check> = (0..4)
            .map(|i| Check {
                minute: i * 5,
                failed: i == 2,
                previous: (i > 0).then(|| (i - 1) * 5),
                every_minute: false,
            })
            .collect();
        let (rows, written) = play(&checks);
        assert_eq!(written, 4);
        assert_eq!(
            totals_at(&rows, 14),
            Checks {
                checks: 3,
                failed: 1
            }
        );
        assert_eq!(
            totals_at(&rows, 19),
            Checks {
                checks: 4,
                failed: 1
            }
        );
    }

    #[test]
    fn windows_come_from_the_newest_rows_or_ask_for_a_read() {
        let rows = [
            LedgerRow {
                minute: 20,
                totals: Checks {
                    checks: 11,
                    failed: 7,
                },
                per_minute: Checks::one(false),
            },
            LedgerRow {
                minute: 10,
                totals: Checks {
                    checks: 1,
                    failed: 0,
                },
                per_minute: Checks::one(true),
            },
        ];
        assert_eq!(
            totals_from_newest(&rows, 25, false),
            Some(Checks {
                checks: 16,
                failed: 7
            })
        );
        assert_eq!(
            totals_from_newest(&rows, 15, false),
            Some(Checks {
                checks: 6,
                failed: 5
            })
        );
        assert_eq!(totals_from_newest(&rows, 5, true), Some(Checks::NONE));
        assert_eq!(totals_from_newest(&rows, 5, false), None);
    }

    #[test]
    fn a_repeated_minute_counts_in_the_latest_row() {
        let (rows, written) = play(&[check(3, false, None), check(3, true, Some(3))]);
        assert_eq!(written, 2);
        assert_eq!(
            totals_at(&rows, 3),
            Checks {
                checks: 2,
                failed: 1
            }
        );
    }
}
