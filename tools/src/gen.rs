//! `ledger gen`: synthetic native charge lines and matching agreements (in progress).
