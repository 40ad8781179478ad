//! The planner support function of the many-symbol `weston_adjusted_prices`, so that the call
//! analysts write for a universe, `weston_adjusted_prices(array(SELECT ...), ...)`, is inlined
//! into their query as the bound-array call is.
//!
//! PostgreSQL refuses to inline a SQL function whose arguments hold a sub-select: the
//! function then runs on its own and its rows are all materialised (at the whole market's
//! size, spilled to disk) before the caller reads one. The planner would make an initplan of
//! such a sub-select anyway (run once, its value a parameter), only after the inlining has
//! been refused. Asked to simplify the call, which the planner does just before it tries to
//! inline, this function does that first: each array or scalar sub-select among the
//! arguments that reads nothing of the queries around it becomes its initplan's parameter,
//! and the call, now of parameters, is inlined. Any other sub-select (one reading the
//! caller's rows or WITH queries) is left as it is and the call runs un-inlined, as before.
//!
//! The initplan belongs to the query level being planned. The planner also simplifies a
//! sub-query's calls while it tries to flatten it into the query around it, on a throw-away
//! copy of that level: an initplan made there would be lost with the copy. So the level is
//! given `OFFSET NULL` (no offset: PostgreSQL's `OFFSET 0` fence), which stops the flattening
//! and leaves the level to be planned on its own, where the initplan is kept.

use std::ffi::c_void;
use std::ptr;

use pgrx::pg_sys::{self, Datum, NodeTag};

extern "C-unwind" {
    /// The planner's own (not in pgrx's bindings): each SubLink in `expr` becomes a SubPlan,
    /// or (reading nothing of the queries around it) an initplan of `root` and its Param.
    fn SS_process_sublinks(
        root: *mut pg_sys::PlannerInfo,
        expr: *mut pg_sys::Node,
        is_qual: bool,
    ) -> *mut pg_sys::Node;
}

#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_weston_adjusted_prices_support() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// `weston_adjusted_prices_support(internal) → internal`: for a `SupportRequestSimplify`,
/// the call with its sub-selects as initplans' parameters, or NULL (no change).
///
/// # Safety
/// Called by the planner with a pointer to a support request node.
#[no_mangle]
#[pgrx::pg_guard]
pub unsafe extern "C-unwind" fn weston_adjusted_prices_support(
    fcinfo: pg_sys::FunctionCallInfo,
) -> Datum {
    let request = pgrx::fcinfo::pg_getarg_datum_raw(fcinfo, 0).cast_mut_ptr::<pg_sys::Node>();
    if request.is_null() || (*request).type_ != NodeTag::T_SupportRequestSimplify {
        return Datum::from(0);
    }
    let request = request.cast::<pg_sys::SupportRequestSimplify>();
    let (root, call) = ((*request).root, (*request).fcall);
    // No root: simplified outside a query's planning, with no level to hold an initplan.
    if root.is_null() || call.is_null() || (*root).parse.is_null() {
        return Datum::from(0);
    }
    let query = (*root).parse;
    // The fence below is written for a SELECT, the only statement flattened into another
    // query; a call in another statement (UPDATE ... FROM, say) is left un-inlined.
    if (*query).commandType != pg_sys::CmdType::CMD_SELECT {
        return Datum::from(0);
    }
    let args = (*call).args.cast::<pg_sys::Node>();
    let mut found = SubLinks {
        any: false,
        all_initplans: true,
    };
    pg_sys::expression_tree_walker(args, Some(survey), ptr::addr_of_mut!(found).cast());
    if !found.any || !found.all_initplans {
        return Datum::from(0);
    }
    // A level with a LIMIT or an OFFSET already is not flattened.
    if (*query).limitOffset.is_null() && (*query).limitCount.is_null() {
        // As `OFFSET NULL` parses.
        (*query).limitOffset =
            pg_sys::makeNullConst(pg_sys::INT8OID, -1, pg_sys::InvalidOid).cast();
        (*query).limitOption = pg_sys::LimitOption::LIMIT_OPTION_COUNT;
    }
    // A new call (the planner's is its own, on its stack) with the new arguments.
    let simplified = pg_sys::copyObjectImpl(call.cast::<c_void>()).cast::<pg_sys::FuncExpr>();
    (*simplified).args =
        pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| SS_process_sublinks(root, args, false))
            .cast();
    Datum::from(simplified)
}

/// What `survey` finds among the arguments.
struct SubLinks {
    any: bool,
    /// Every sub-select is one the planner makes an initplan of: an array or scalar one that
    /// reads nothing of the queries around it.
    all_initplans: bool,
}

unsafe extern "C-unwind" fn survey(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    let found = &mut *context.cast::<SubLinks>();
    if (*node).type_ == NodeTag::T_SubLink {
        let sublink = node.cast::<pg_sys::SubLink>();
        found.any = true;
        let mut outside = Outside { depth: 0 };
        found.all_initplans &= matches!(
            (*sublink).subLinkType,
            pg_sys::SubLinkType::ARRAY_SUBLINK | pg_sys::SubLinkType::EXPR_SUBLINK
        ) && (*sublink).testexpr.is_null()
            && !reads_outside((*sublink).subselect, ptr::addr_of_mut!(outside).cast());
        // Not into the sub-select: `reads_outside` has walked it.
        return !found.all_initplans;
    }
    pg_sys::expression_tree_walker(node, Some(survey), context)
}

/// How deep `reads_outside` is in the sub-select's queries (1: the sub-select itself).
struct Outside {
    depth: u32,
}

/// Whether the walked node refers to a query level above the sub-select's: a column, an
/// aggregate or a WITH query of the caller's query or of one around it.
unsafe extern "C-unwind" fn reads_outside(node: *mut pg_sys::Node, context: *mut c_void) -> bool {
    if node.is_null() {
        return false;
    }
    let outside = &mut *context.cast::<Outside>();
    let depth = outside.depth;
    match (*node).type_ {
        NodeTag::T_Query => {
            outside.depth += 1;
            let found = pg_sys::query_tree_walker(
                node.cast(),
                Some(reads_outside),
                context,
                pg_sys::QTW_EXAMINE_RTES_BEFORE as i32,
            );
            outside.depth -= 1;
            found
        }
        NodeTag::T_RangeTblEntry => {
            let entry = node.cast::<pg_sys::RangeTblEntry>();
            (*entry).rtekind == pg_sys::RTEKind::RTE_CTE && (*entry).ctelevelsup >= depth
        }
        NodeTag::T_Var => (*node.cast::<pg_sys::Var>()).varlevelsup >= depth,
        NodeTag::T_Aggref => (*node.cast::<pg_sys::Aggref>()).agglevelsup >= depth,
        NodeTag::T_GroupingFunc => (*node.cast::<pg_sys::GroupingFunc>()).agglevelsup >= depth,
        NodeTag::T_PlaceHolderVar => (*node.cast::<pg_sys::PlaceHolderVar>()).phlevelsup >= depth,
        _ => pg_sys::expression_tree_walker(node, Some(reads_outside), context),
    }
}
