// Package rules decides who pays each bill line: which trusteeship changes
// are accepted, which are held back by unsettled bills, and which change sets
// the payer of a line. It is pure: values in, values out, no I/O, clock or
// globals beyond the documented [Rule] values.
//
// The rules come from CONTRACT.md, which reads the two seed documents:
// seed 000 (000_c018ae67df529d05.txt, "Financial trusteeship overview") and
// seed 001 (001_1260bca189f94d4c.txt, "Trusteeship usage notes"). Each [Rule]
// names the passage it implements, and each has a test that names it too.
//
// Use it in three steps:
//
//  1. [ValidateChanges] judges the well-formed changes in (changed_at,
//     change_id) order and returns the accepted ones and the rejected ones
//     with their rule.
//  2. [NewPlan] indexes the accepted changes per member; [Plan.Observe] is
//     called once for every accepted bill line, to find the unsettled bills
//     that hold a change back for a product.
//  3. [Plan.Assign] then gives each line its payer, decided_by and held_by.
//
// A run of many lines need not wait for step 2 to decide most of them:
// [Plan.AssignEarly] decides a line at once when no hold can change its
// payer, and [Plan.Holds] says which lines step 2 needs to see at all.
package rules
