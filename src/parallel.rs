//! Independent work on threads of its own where the process can have them,
//! with the same results, in the same order, as on one thread: the plan's
//! phases, and the serialising of a large render's documents.

/// `work` of each item, each on a thread of its own where threads fit, the
/// results in the items' order: the same results as one thread would give.
pub fn in_parallel<'a, I: Sync, T: Send>(items: &'a [I], work: impl Fn(&'a I) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let work = &work;
        let later: Vec<Later<'_, T>> = items.iter().map(|item| spawn_or_inline(scope, move || work(item))).collect();
        later.into_iter().map(Later::get).collect()
    })
}

/// A value computed on another thread, or here when no thread can be had
/// (a process under an address-space cap, say): the result is the same.
pub enum Later<'scope, T> {
    Thread(std::thread::ScopedJoinHandle<'scope, T>),
    Done(T),
}

impl<T> Later<'_, T> {
    pub fn get(self) -> T {
        match self {
            Later::Thread(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Later::Done(value) => value,
        }
    }
}

pub fn spawn_or_inline<'scope, 'env, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    work: impl FnOnce() -> T + Send + Clone + 'scope,
) -> Later<'scope, T> {
    if threads_fit()
        && let Ok(handle) = std::thread::Builder::new().spawn_scoped(scope, work.clone())
    {
        return Later::Thread(handle);
    }
    Later::Done(work())
}

/// Whether more threads fit the process's address space: glibc reserves 64 MiB
/// of it for each thread's malloc arena, which a process under a cap (`ulimit
/// -v`, a CI sandbox) may not have even when its heap is small. Capped, topo
/// works on one thread.
fn threads_fit() -> bool {
    static FIT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FIT.get_or_init(|| rlimit::getrlimit(rlimit::Resource::AS).is_ok_and(|(soft, _)| soft == rlimit::INFINITY))
}
