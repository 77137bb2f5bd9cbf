// Package runtime runs compiled flows: Step takes a *compile.Program, a
// conversation State and one Inbound message, changes the state in place and
// returns the messages to send and the effects (store, delete, consent,
// notice, erase, hand-off, end, call) for the host to carry out. It inserts
// the consent questions and notices the flow's purposes require, and answers
// the rights keywords (MY DATA, DELETE MY DATA, STOP, PRIVACY, HUMAN) at any
// point of a conversation.
//
// runtime does no I/O of its own: storage comes in through Store, outside
// systems through Caller, time through Env.Now. MemStore and Engine are an
// in-memory store and a concurrent front end for tests, the simulator and
// benchmarks.
//
// runtime imports flow and compile; it must not import vault, privacy or
// adapters. Entry points: Step, Engine.Handle, NewMemStore.
package runtime
