// CPU time of the browser this driver launched, read from /proc (Linux):
// beside a latency figure it says how busy the machine was producing it.
// The latency of five pages on a small machine is bound by their CPU: what
// one update costs in CPU, across all the browser's processes and threads,
// is the figure to lower, and it swings less than latency does.
import { readFileSync, readdirSync } from 'node:fs'

const ticksPerMs = 100 / 1000 // USER_HZ: 100 on every Linux this runs on

// browserCPU returns the CPU milliseconds used so far by the processes this
// node process started (the browser) and their descendants: all threads
// (total) and the pages' main threads (main: a renderer's thread whose id
// is its process id), or null where /proc cannot be read.
export function browserCPU() {
  let procs
  try {
    procs = readdirSync('/proc').filter(name => /^\d+$/.test(name)).map(readProcess).filter(Boolean)
  } catch {
    return null
  }
  const mine = new Set([process.pid])
  for (let grew = true; grew;) { // parents may come after children in the listing
    grew = false
    for (const p of procs) {
      if (!mine.has(p.pid) && mine.has(p.ppid)) {
        mine.add(p.pid)
        grew = true
      }
    }
  }
  let total = 0, main = 0
  for (const p of procs) {
    if (!mine.has(p.pid) || p.pid === process.pid) continue
    total += p.ticks
    if (p.renderer) main += p.mainTicks
  }
  return { total: total / ticksPerMs, main: main / ticksPerMs }
}

function readProcess(pid) {
  try {
    const stat = fields(readFileSync(`/proc/${pid}/stat`, 'utf8'))
    const renderer = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')
    const mainStat = fields(readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'))
    return { pid: +pid, ppid: +stat[1], ticks: +stat[11] + +stat[12], renderer, mainTicks: +mainStat[11] + +mainStat[12] }
  } catch {
    return null // gone meanwhile
  }
}

// fields splits a stat line after the command name (which may hold spaces):
// fields[0] is the state, [1] the parent's pid, [11] and [12] utime and stime.
function fields(stat) {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}
