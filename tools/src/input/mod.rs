//! Reading agreement and charge-line files (in progress).
