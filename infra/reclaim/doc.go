// Package reclaim runs the reclaiming of unused licenses: a reactor that,
// for every license claimed under a policy with reclaim_after_days, warns
// its user reclaim_warn_days before the license has been idle that long
// (LicenseReclaimWarned, notification license.reclaim_warning) and
// reclaims it when it falls due (LicenseReclaimed, license.reclaimed); the
// freed seat goes to the policy's queue through the granter.
//
// Idle means no sign-in to the policy's app since the claim, as the
// last-seen bucket (package lastseen) records it; the reactor reads it right
// before each command, so a user who signed in after the warning keeps the
// license, and the domain refuses a reclaim whose last sign-in is newer than
// the warning's. Every command has a deterministic command ID derived from
// the license and the sign-in it is based on, and DecideReclaim does
// nothing for a command with nothing left to do, so several reactors,
// restarts and overlapping ticks never warn or reclaim twice. Time comes
// from an injected clock.
//
// What it does not close: a sign-in recorded between the reactor's read of
// the bucket and its append (one round trip) is not seen by that reclaim.
// Closing it would take an event per sign-in of a warned user on the
// product aggregate, whose check would then order the two.
package reclaim
