//! The running totals at the end of each past day the page shows. A finished day's totals no
//! longer change, so an isolate reads them once a day and each later build reads only the
//! current minute's: about 3 rows per component instead of 3 per component and day.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::store::{Store, StoreResult, COMPONENTS, PROBES, SERVICES};
use vigil_core::alerting::window::WindowStats;

/// Running totals per subject and minute.
pub type Totals = BTreeMap<String, BTreeMap<i64, WindowStats>>;

/// Minutes into a day before its predecessor counts as settled: a flush or a cron run that
/// finishes just after midnight still adds to yesterday's last minutes.
const SETTLE_MINUTES: i64 = 10;

/// The subjects of each ledger the page reads: services, probes, other components.
pub struct Subjects<'a> {
    pub services: &'a [String],
    pub probes: &'a [String],
    pub components: &'a [String],
}

/// What an isolate keeps: the past days' totals of one set of subjects, for one day.
struct Kept {
    past_points: Vec<i64>,
    subjects: [Vec<String>; 3],
    totals: Rc<[Totals; 3]>,
}

thread_local! {
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
}

/// The totals of services, probes and other components at `points` (past days' ends, then the
/// current minute last): the past ones from the isolate's memory when it holds them for these
/// subjects.
pub async fn totals(
    store: &Store,
    subjects: &Subjects<'_>,
    points: &[i64],
) -> StoreResult<[Totals; 3]> {
    let Some((&now_point, past_points)) = points.split_last() else {
        return Ok(Default::default());
    };
    let key = [
        subjects.services.to_vec(),
        subjects.probes.to_vec(),
        subjects.components.to_vec(),
    ];
    let kept = KEPT.with(|k| {
        k.borrow()
            .as_ref()
            .filter(|k| k.past_points == past_points && k.subjects == key)
            .map(|k| k.totals.clone())
    });
    let Some(past) = kept else {
        let all = read(store, subjects, points).await?;
        let settled = past_points
            .last()
            .is_some_and(|&end| now_point - end > SETTLE_MINUTES);
        if settled {
            let past = all.clone().map(|mut totals| {
                totals
                    .values_mut()
                    .for_each(|t| t.retain(|&m, _| m != now_point));
                totals
            });
            let past_points = past_points.to_vec();
            let kept = Kept {
                past_points,
                subjects: key,
                totals: Rc::new(past),
            };
            KEPT.with(|k| k.replace(Some(kept)));
        }
        return Ok(all);
    };
    let mut now = read(store, subjects, &[now_point]).await?;
    for (current, past) in now.iter_mut().zip(past.iter()) {
        for (subject, minutes) in past {
            let at = current.entry(subject.clone()).or_default();
            at.extend(minutes.iter().map(|(&m, t)| (m, t.clone())));
        }
    }
    Ok(now)
}

async fn read(store: &Store, subjects: &Subjects<'_>, points: &[i64]) -> StoreResult<[Totals; 3]> {
    let (services, probes, components) = futures::join!(
        store.totals_at_minutes(&SERVICES, subjects.services, points, None),
        store.totals_at_minutes(&PROBES, subjects.probes, points, None),
        store.totals_at_minutes(&COMPONENTS, subjects.components, points, None),
    );
    Ok([services?, probes?, components?])
}
