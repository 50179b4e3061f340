//! Accounting identities (勾稽关系) over a report's facts: T3-A, T3-B, T3-C, T4, plus soft
//! warnings. Pure functions of the facts.
