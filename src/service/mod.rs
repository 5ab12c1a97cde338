//! Application services: the operations handlers call when one request must change several
//! things together (a partner, its snapshot, its invite email) in one transaction.

pub mod magic;
pub mod partners;
