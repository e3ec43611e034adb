//! Fault injection: latency, failures of given pages, bursts of 5xx/429, garbage pages, token refusal and
//! tokens that stop working after some uses.

use crate::dataset::AdvanceSpec;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Fault {
    /// An HTTP error with a `text/plain` body.
    Status { status: u16 },
    /// 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// 200 with a body that is not JSON.
    Garbage,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Extra latency of every list request.
    pub latency_ms: u64,
    /// Faults for the next list requests, whatever their page.
    pub next: VecDeque<Fault>,
    /// Page number → (fault, how many times; `u32::MAX` for ever). The page is the client's n-th page
    /// request (`server::client_page`).
    pub pages: HashMap<u64, (Fault, u32)>,
    /// Refuse every token request (401).
    pub refuse_token: bool,
    /// Grant this many tokens, then refuse every further token request (a renewal that fails).
    pub token_grants: Option<u32>,
    /// A token stops working (401 `invalid-access-token`) after this many list requests.
    pub token_max_uses: Option<u32>,
    /// Leave `total_page` and `total_data` out of list responses (an upstream that does not count).
    pub omit_totals: bool,
    /// `expires_in` of issued tokens, in seconds.
    pub token_lifetime_secs: Option<u64>,
    /// Answer list requests with `Connection: close` and close the connection after each
    /// response, as some gateways (and HTTP/1.0 proxies) do.
    pub close_connections: bool,
    /// A live registry: every this many list requests, change records (`edit`) before answering, so
    /// a client paging through a window meets edits behind and ahead of where it reads. 0: never.
    pub edit_every_requests: u32,
    /// What each such edit changes (edits, renewals, new workers; `stamp_lag_ms` for late stamps).
    pub edit: AdvanceSpec,
    /// Answer `total_page` / `total_data` as this many pages / records, whatever the data (an upstream
    /// that counts wrong); pages past the data are empty.
    pub claim_total_pages: Option<u64>,
}

impl FaultPlan {
    /// The fault for this request, if any, consuming it.
    pub fn take(&mut self, page: u64) -> Option<Fault> {
        if let Some((fault, remaining)) = self.pages.get_mut(&page) {
            if *remaining > 0 {
                if *remaining != u32::MAX {
                    *remaining -= 1;
                }
                return Some(*fault);
            }
        }
        self.next.pop_front()
    }
}
