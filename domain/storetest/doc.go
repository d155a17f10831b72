// Package storetest is the conformance suite every domain.Store
// implementation must pass: Run it from the implementation's tests with a
// constructor of empty stores.
//
// The suite pins down the contract the domain relies on:
//   - Load returns an aggregate's events after a position, oldest first,
//     equal to what was appended, with Position set; none is not an error;
//   - positions increase strictly across all aggregates of all tenants;
//   - Append stores every write's events or none: a wrong Expected on any
//     write (too low, too high, 0 on an existing aggregate, non-zero on a
//     new one) returns an error wrapping domain.ErrConcurrency and stores
//     nothing, and so does any invalid input (without ErrConcurrency);
//   - of many concurrent appends with the same Expected exactly one wins;
//   - tenants and aggregates are isolated from each other.
package storetest
