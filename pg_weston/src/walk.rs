//! The one-symbol `weston_adjusted_prices`, as LEAN and Zipline adjust: the security's bars
//! are read in date order, one index-ordered scan for each ticker it traded under (a plan
//! prepared once per backend), and each bar is multiplied by a factor that changes only at
//! an event's date. The rows go straight into the function's result: no sort, no per-bar
//! lookup, no re-scan per factor. The factors are `weston_adjustment_segments`'s, computed
//! by the same code (`adjust::read_segments`), and the products are `numeric`'s own
//! multiplication, so the rows are those the many-symbol form gives for the one symbol.
//!
//! A C-language function of its own rather than `#[pg_extern]`: pgrx would copy every bar's
//! numerics into Rust memory and back, which costs more than the multiplication.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::ptr;

use chrono::NaiveDate;
use pgrx::datum::{Date, TimestampWithTimeZone};
use pgrx::pg_sys::{self, Datum};
use pgrx::prelude::*;
use pgrx::{AnyNumeric, IntoDatum};
use weston_core::adjust::{Exact, Segment};

use crate::adjust::{adjustment, read_segments, to_pg_numeric};
use crate::dates::{from_naive, to_naive};

/// One ticker's bars from `$2` to `$3`, in date order: an ordered Append of index scans of
/// the months between, pruned when it runs.
const BARS_SQL: &str = include_str!("../sql/queries/walk_bars.sql");

/// The same as known at `$4` (`weston_prices_daily_known`: the current rows known by then
/// and the kept versions current then).
const BARS_KNOWN_SQL: &str = include_str!("../sql/queries/walk_bars_known.sql");

#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_weston_adjusted_prices_one() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// `weston_adjusted_prices(ticker, from_date, to_date, as_of, total_return, known_on)`.
///
/// # Safety
/// Called by PostgreSQL's function manager with the six arguments its SQL declares, in a
/// context that takes a set in materialize mode.
#[no_mangle]
#[pg_guard]
pub unsafe extern "C-unwind" fn weston_adjusted_prices_one(
    fcinfo: pg_sys::FunctionCallInfo,
) -> Datum {
    crate::report::plainly("weston_adjusted_prices", || {
        let ticker: Option<String> = pgrx::fcinfo::pg_getarg(fcinfo, 0);
        let from_date: Option<Date> = pgrx::fcinfo::pg_getarg(fcinfo, 1);
        let to_date: Option<Date> = pgrx::fcinfo::pg_getarg(fcinfo, 2);
        let as_of: Option<Date> = pgrx::fcinfo::pg_getarg(fcinfo, 3);
        let total_return: Option<bool> = pgrx::fcinfo::pg_getarg(fcinfo, 4);
        let known_on: Option<TimestampWithTimeZone> = pgrx::fcinfo::pg_getarg(fcinfo, 5);
        crate::adjust::weston_check_adjusted_arguments(
            Some(vec![ticker.clone()]),
            from_date,
            to_date,
            total_return,
        );
        let (Some(ticker), Some(from_date), Some(to_date)) = (ticker, from_date, to_date) else {
            unreachable!("weston_check_adjusted_arguments refuses a NULL")
        };
        let adjustment = adjustment(Some(from_date), as_of, total_return);
        let window = (
            to_naive("from_date", from_date),
            to_naive("to_date", to_date),
        );
        // The result: a tuplestore in the query's memory, the row type the SQL declares.
        pg_sys::SetSingleFuncCall(fcinfo, 0);
        let result = (*fcinfo).resultinfo.cast::<pg_sys::ReturnSetInfo>();
        Spi::connect(|client| {
            let mut found = read_segments(client, vec![ticker.clone()], adjustment, known_on);
            let segments = found
                .segments
                .pop()
                .map(|(_, segments)| segments)
                .unwrap_or_default();
            // One security holds one ticker at a time (ticker_history's exclusion
            // constraint), so its pieces do not overlap: read one after the other in date
            // order, their bars come in date order.
            let mut pieces = found.pieces.remove(&ticker).unwrap_or_default();
            pieces.sort_by_key(|piece| piece.from);
            let mut walk = Walk::new(
                (*result).setResult,
                (*result).setDesc,
                ticker.as_str().into_datum().expect("text"),
                &segments,
            );
            for piece in pieces {
                let lo = piece.from.map_or(window.0, |from| from.max(window.0));
                let hi = piece.to.map_or(window.1, |to| to.min(window.1));
                if lo <= hi {
                    walk.read(&piece.traded, lo, hi, known_on);
                }
            }
            walk.finish();
        });
        Datum::from(0)
    })
}

/// The factors of the bars before one bound (or after the last): `numeric` datums, and
/// whether each is 1, when the bar's values are passed on as they are (as the many-symbol
/// form does: `CASE WHEN unit THEN open ELSE open * factor END`).
struct Factor {
    price: Datum,
    volume: Datum,
    price_is_one: bool,
    volume_is_one: bool,
}

impl Factor {
    fn new(price: &Exact, volume: &Exact) -> Factor {
        let one = AnyNumeric::from(1);
        let datum = |value: AnyNumeric| -> Datum {
            // SAFETY: a numeric datum just made, in the current memory context (SPI's, which
            // outlives the read); detoasting a plain one returns it as it is.
            unsafe {
                let datum = value.into_datum().expect("a numeric");
                Datum::from(pg_sys::pg_detoast_datum(datum.cast_mut_ptr()))
            }
        };
        let (price, volume) = (to_pg_numeric(price), to_pg_numeric(volume));
        Factor {
            price_is_one: price == one,
            volume_is_one: volume == one,
            price: datum(price),
            volume: datum(volume),
        }
    }
}

/// The receiver of the bars' scans: PostgreSQL hands it each bar, and it appends the
/// adjusted row to the result. `dest` is first so that a pointer to it is a pointer to the
/// whole.
#[repr(C)]
struct Walk {
    dest: pg_sys::DestReceiver,
    store: *mut pg_sys::Tuplestorestate,
    desc: pg_sys::TupleDesc,
    symbol: Datum,
    /// The events' dates ascending, as day numbers: a bar on `d` takes the factor at the
    /// number of bounds on or before `d`.
    bounds: Vec<pg_sys::DateADT>,
    /// One more than `bounds`: the last is 1.
    factors: Vec<Factor>,
    /// The current factor's index. Bars come in date order, so it only moves forward.
    current: usize,
    /// Each row's products, freed once the row is stored.
    row_memory: pg_sys::MemoryContext,
}

impl Walk {
    /// # Safety
    /// `store` and `desc` are the result's (`SetSingleFuncCall`); called inside SPI.
    unsafe fn new(
        store: *mut pg_sys::Tuplestorestate,
        desc: pg_sys::TupleDesc,
        symbol: Datum,
        segments: &[Segment],
    ) -> Walk {
        let bounds = segments
            .iter()
            .map(|s| from_naive(s.effective_before).to_pg_epoch_days())
            .collect();
        let mut factors: Vec<Factor> = segments
            .iter()
            .map(|s| Factor::new(&s.price_factor, &s.volume_factor))
            .collect();
        let one = Exact::from_integer(1.into());
        factors.push(Factor::new(&one, &one));
        let row_memory = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"weston_adjusted_prices row".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        Walk {
            dest: pg_sys::DestReceiver {
                receiveSlot: Some(receive_bar),
                rStartup: Some(startup),
                rShutdown: Some(shutdown),
                rDestroy: Some(shutdown),
                mydest: pg_sys::CommandDest::DestNone,
            },
            store,
            desc,
            symbol,
            bounds,
            factors,
            current: 0,
            row_memory,
        }
    }

    /// Adds the bars of `traded` from `lo` to `hi`, adjusted, to the result.
    ///
    /// # Safety
    /// Called inside SPI.
    unsafe fn read(
        &mut self,
        traded: &str,
        lo: NaiveDate,
        hi: NaiveDate,
        known_on: Option<TimestampWithTimeZone>,
    ) {
        let mut types = vec![pg_sys::TEXTOID, pg_sys::DATEOID, pg_sys::DATEOID];
        let sql = match known_on {
            None => BARS_SQL,
            Some(_) => {
                types.push(pg_sys::TIMESTAMPTZOID);
                BARS_KNOWN_SQL
            }
        };
        let plan = prepared(sql, &mut types);
        let count = types.len();
        let params = pg_sys::makeParamList(count as std::ffi::c_int);
        let values = (*params).params.as_mut_slice(count);
        let parameter = |value: Datum, ptype: pg_sys::Oid| pg_sys::ParamExternData {
            value,
            isnull: false,
            pflags: pg_sys::PARAM_FLAG_CONST as u16,
            ptype,
        };
        values[0] = parameter(traded.into_datum().expect("text"), pg_sys::TEXTOID);
        values[1] = parameter(
            Datum::from(from_naive(lo).to_pg_epoch_days()),
            pg_sys::DATEOID,
        );
        values[2] = parameter(
            Datum::from(from_naive(hi).to_pg_epoch_days()),
            pg_sys::DATEOID,
        );
        if let Some(known_on) = known_on {
            values[3] = parameter(
                known_on.into_datum().expect("timestamptz"),
                pg_sys::TIMESTAMPTZOID,
            );
        }
        let options = pg_sys::SPIExecuteOptions {
            params,
            // A STABLE function's queries see its caller's snapshot.
            read_only: true,
            dest: ptr::from_mut(&mut self.dest),
            ..Default::default()
        };
        let status = pg_sys::SPI_execute_plan_extended(plan, &options);
        if status < 0 {
            error!("weston: reading the bars of {traded}: SPI status {status}");
        }
    }

    /// # Safety
    /// Once, after the last `read`.
    unsafe fn finish(self) {
        pg_sys::MemoryContextDelete(self.row_memory);
    }

    /// Appends one bar, adjusted, to the result.
    ///
    /// # Safety
    /// `slot` holds a row of `BARS_SQL`'s columns.
    unsafe fn append(&mut self, slot: *mut pg_sys::TupleTableSlot) {
        // One guarded call a row, not one for each of PostgreSQL's functions it calls: the
        // row's own frames hold nothing to drop, so an error may leave them as it would one.
        pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| adjusted_row(self, slot));
    }
}

/// PostgreSQL's functions that `adjusted_row` calls, declared without pgrx's guard (the row
/// is guarded as a whole).
mod unguarded {
    use pgrx::pg_sys;
    extern "C-unwind" {
        pub fn slot_getsomeattrs_int(slot: *mut pg_sys::TupleTableSlot, attnum: std::ffi::c_int);
        pub fn pg_detoast_datum(datum: *mut pg_sys::varlena) -> *mut pg_sys::varlena;
        pub fn numeric_mul_opt_error(
            num1: pg_sys::Numeric,
            num2: pg_sys::Numeric,
            have_error: *mut bool,
        ) -> pg_sys::Numeric;
        pub fn tuplestore_putvalues(
            state: *mut pg_sys::Tuplestorestate,
            tdesc: pg_sys::TupleDesc,
            values: *mut pg_sys::Datum,
            isnull: *mut bool,
        );
        pub fn MemoryContextReset(context: pg_sys::MemoryContext);
    }
}

/// `slot`'s bar times `walk`'s current factor, appended to the result.
///
/// # Safety
/// Inside `pg_guard_ffi_boundary`; nothing here may need dropping.
unsafe fn adjusted_row(walk: &mut Walk, slot: *mut pg_sys::TupleTableSlot) {
    if (*slot).tts_nvalid < 6 {
        unguarded::slot_getsomeattrs_int(slot, 6);
    }
    let bar = std::slice::from_raw_parts((*slot).tts_values, 6);
    let missing = std::slice::from_raw_parts((*slot).tts_isnull, 6);
    let date = bar[0].value() as pg_sys::DateADT;
    while walk.current < walk.bounds.len() && walk.bounds[walk.current] <= date {
        walk.current += 1;
    }
    let factor = &walk.factors[walk.current];
    let outer = pg_sys::MemoryContextSwitchTo(walk.row_memory);
    let mut row = [Datum::from(0); 9];
    let mut nulls = [false; 9];
    row[0] = walk.symbol;
    row[1] = bar[0];
    // Columns 2 to 6: open, high, low, close, volume; then the two factors.
    for column in 1..=5 {
        nulls[column + 1] = missing[column];
        let (by, is_one) = if column == 5 {
            (factor.volume, factor.volume_is_one)
        } else {
            (factor.price, factor.price_is_one)
        };
        row[column + 1] = if missing[column] || is_one {
            bar[column]
        } else {
            let value = unguarded::pg_detoast_datum(bar[column].cast_mut_ptr());
            Datum::from(unguarded::numeric_mul_opt_error(
                value.cast(),
                by.cast_mut_ptr(),
                ptr::null_mut(),
            ))
        };
    }
    row[7] = factor.price;
    row[8] = factor.volume;
    unguarded::tuplestore_putvalues(walk.store, walk.desc, row.as_mut_ptr(), nulls.as_mut_ptr());
    pg_sys::MemoryContextSwitchTo(outer);
    unguarded::MemoryContextReset(walk.row_memory);
}

#[pg_guard]
unsafe extern "C-unwind" fn receive_bar(
    slot: *mut pg_sys::TupleTableSlot,
    dest: *mut pg_sys::DestReceiver,
) -> bool {
    (*dest.cast::<Walk>()).append(slot);
    true
}

#[pg_guard]
unsafe extern "C-unwind" fn startup(
    _dest: *mut pg_sys::DestReceiver,
    _operation: std::ffi::c_int,
    _desc: pg_sys::TupleDesc,
) {
}

#[pg_guard]
unsafe extern "C-unwind" fn shutdown(_dest: *mut pg_sys::DestReceiver) {}

thread_local! {
    /// The bars' plans by query, prepared once per backend (planning them over every monthly
    /// partition costs more than running them); PostgreSQL re-plans them when a table changes.
    /// pgrx's prepared statements give no plan to run with a receiver of one's own.
    static PLANS: RefCell<HashMap<&'static str, pg_sys::SPIPlanPtr>> = RefCell::new(HashMap::new());
}

/// `sql`'s plan for parameters of `types`, prepared and kept on first use: generic, so each
/// run prunes the months to its dates rather than planning them.
///
/// # Safety
/// Called inside SPI.
unsafe fn prepared(sql: &'static str, types: &mut [pg_sys::Oid]) -> pg_sys::SPIPlanPtr {
    PLANS.with_borrow_mut(|plans| {
        *plans.entry(sql).or_insert_with(|| {
            let text = CString::new(sql).expect("no NUL in a query");
            let plan = pg_sys::SPI_prepare_cursor(
                text.as_ptr(),
                types.len() as std::ffi::c_int,
                types.as_mut_ptr(),
                pg_sys::CURSOR_OPT_GENERIC_PLAN as std::ffi::c_int,
            );
            if plan.is_null() || pg_sys::SPI_keepplan(plan) != 0 {
                error!("weston: preparing the read of bars failed");
            }
            plan
        })
    })
}
