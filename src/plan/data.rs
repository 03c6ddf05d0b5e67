//! The stateful services' data across a migration: which services carry data
//! over, whether their volume stays where it is or the data is restored into
//! the new phase, and the commands that back it up, restore it and check it,
//! per engine (PostgreSQL, MySQL/MariaDB, MongoDB, Redis, plain files).

use crate::image::ImageRef;
use crate::model::{Service, Volume, names};
use crate::spec::Target;

use super::migrate::DataMove;
use super::steps::{Ctx, Mode, Runbook, mode, wait_until, word};
use super::{mem, ops};

/// How a database is dumped and restored, from its image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
    Mariadb,
    Mongo,
    Redis,
    /// Anything else: the volume's files.
    Files,
}

pub fn engine(image: &ImageRef) -> Engine {
    match image.name() {
        "postgres" | "pgvector" | "postgis" | "timescaledb" | "timescaledb-ha" => Engine::Postgres,
        "mysql" | "percona" => Engine::Mysql,
        "mariadb" => Engine::Mariadb,
        "mongo" | "mongodb" => Engine::Mongo,
        "redis" | "valkey" | "redis-stack-server" => Engine::Redis,
        _ => Engine::Files,
    }
}

/// A stateful service whose data the new phase needs.
#[derive(Clone, Debug)]
pub struct Carried<'a> {
    /// The service in the new phase.
    pub service: &'a Service,
    /// The service in the old phase.
    pub old: &'a Service,
    pub engine: Engine,
    /// The node its data is on before and after.
    pub from: String,
    pub to: String,
    /// Its volume stays and the new phase mounts it as it is; otherwise the data is restored.
    pub keep: bool,
}

/// The stateful services of both phases that have volumes.
pub fn carried<'a>(ctx: &Ctx<'a>) -> Vec<Carried<'a>> {
    let (a, b) = (ctx.a, ctx.b);
    let docker = |t: Target| t != Target::K8s;
    let mut out = Vec::new();
    for (name, service) in &ctx.b.services {
        let Some(old) = a.services.get(name) else { continue };
        if !old.stateful || old.own_volumes().next().is_none() {
            continue;
        }
        let from = data_node(a, name, ctx.before);
        let to = data_node(b, name, ctx.after);
        // Docker names a volume after the project (the stack repeats it), so a
        // service that stays on its node finds its volume; a K3s claim stays only within one cluster.
        let keep = from == to
            && match (docker(a.target), docker(b.target)) {
                (true, true) => true,
                (false, false) => mode(a, b) == Mode::Update,
                _ => false,
            };
        out.push(Carried { service, old, engine: engine(&old.image), from, to, keep });
    }
    out
}

/// The node a service's volume is on.
fn data_node(phase: &crate::model::Phase, service: &str, nodes: &super::migrate::NodesOf) -> String {
    match phase.target {
        Target::Compose => ops::manager(phase),
        _ => nodes.get(service).and_then(|n| n.first().cloned()).unwrap_or_else(|| ops::manager(phase)),
    }
}

/// The user and database of a PostgreSQL service, from its environment (the image's defaults otherwise).
fn pg_names(rb: &mut Runbook, service: &Service) -> (String, String) {
    let mut from_env = |key: &str| -> Option<String> {
        if let Some(value) = service.env.get(key) {
            return Some(word(value));
        }
        service.secrets.iter().any(|s| s == key).then(|| {
            rb.secret(key);
            format!("\"${key}\"")
        })
    };
    let user = from_env("POSTGRES_USER").unwrap_or_else(|| "postgres".to_owned());
    let db = from_env("POSTGRES_DB").unwrap_or_else(|| user.clone());
    (user, db)
}

/// Exact row counts of every table, one `schema.table count` line each, sorted.
const PG_COUNTS: &str = "select table_schema || '.' || table_name || ' ' || (xpath('/row/c/text()', \
    query_to_xml(format('select count(*) as c from %I.%I', table_schema, table_name), false, true, '')))[1]::text \
    from information_schema.tables where table_type = 'BASE TABLE' \
    and table_schema not in ('pg_catalog', 'information_schema') order by 1";

fn pg_counts(x: &str, user: &str, db: &str, file: &str) -> String {
    format!("{x} psql -U {user} -d {db} -At -c \"{PG_COUNTS}\" > {file}")
}

/// MySQL and MariaDB read the root password inside the container, from its own environment.
fn my_tools(engine: Engine) -> (&'static str, &'static str, &'static str) {
    match engine {
        Engine::Mariadb => ("mariadb-dump", "mariadb", "${MARIADB_ROOT_PASSWORD:-$MYSQL_ROOT_PASSWORD}"),
        _ => ("mysqldump", "mysql", "$MYSQL_ROOT_PASSWORD"),
    }
}

fn mongo_auth(service: &Service) -> &'static str {
    let has = |k: &str| service.env.contains_key(k) || service.secrets.iter().any(|s| s == k);
    if has("MONGO_INITDB_ROOT_USERNAME") {
        " --username \"$MONGO_INITDB_ROOT_USERNAME\" --password \"$MONGO_INITDB_ROOT_PASSWORD\" --authenticationDatabase admin"
    } else {
        ""
    }
}

/// The dump's file, in the current directory of the node that writes it.
fn dump_file(c: &Carried, volume: &Volume) -> String {
    let name = &c.service.name;
    match c.engine {
        Engine::Postgres => format!("{name}.dump"),
        Engine::Mysql | Engine::Mariadb => format!("{name}.sql"),
        Engine::Mongo => format!("{name}.archive"),
        Engine::Redis => format!("{name}.rdb"),
        Engine::Files => format!("{name}-{}.tar", volume.name),
    }
}

/// The files a backup step writes.
fn backup_files(c: &Carried) -> Vec<String> {
    let name = &c.old.name;
    match c.engine {
        Engine::Files => c.old.own_volumes().map(|v| dump_file(c, v)).collect(),
        _ => {
            let Some(first) = c.old.own_volumes().next() else { return Vec::new() };
            let mut files = vec![dump_file(c, first)];
            match c.engine {
                Engine::Postgres => files.push(format!("{name}.counts.before")),
                Engine::Redis => files.push(format!("{name}.keys.before")),
                _ => {}
            }
            files
        }
    }
}

fn backup_commands(rb: &mut Runbook, c: &Carried, x: &str) -> Vec<String> {
    let name = &c.old.name;
    let Some(first) = c.old.own_volumes().next() else { return Vec::new() };
    let file = dump_file(c, first);
    match c.engine {
        Engine::Postgres => {
            let (user, db) = pg_names(rb, c.old);
            vec![
                format!("{x} pg_dump -U {user} -d {db} -Fc > {file}"),
                pg_counts(x, &user, &db, &format!("{name}.counts.before")),
            ]
        }
        Engine::Mysql | Engine::Mariadb => {
            let (dump, _, password) = my_tools(c.engine);
            vec![format!(
                "{x} sh -c 'exec {dump} --single-transaction --routines --events --all-databases -uroot -p\"{password}\"' > {file}"
            )]
        }
        Engine::Mongo => {
            let auth = mongo_auth(c.old);
            vec![format!("{x} sh -c 'exec mongodump --archive{auth}' > {file}")]
        }
        Engine::Redis => vec![
            redis_cli(x, c.old, "SAVE"),
            format!("{x} cat {}/dump.rdb > {file}", first.mount),
            format!("{} > {name}.keys.before", redis_cli(x, c.old, "DBSIZE")),
        ],
        Engine::Files => c
            .old
            .own_volumes()
            .map(|v| format!("{x} tar -C {} -cf - . > {}", word(&v.mount), dump_file(c, v)))
            .collect(),
    }
}

fn restore_commands(rb: &mut Runbook, c: &Carried, x: &str) -> Vec<String> {
    let Some(first) = c.service.own_volumes().next() else { return Vec::new() };
    let file = dump_file(c, first);
    match c.engine {
        Engine::Postgres => {
            let (user, db) = pg_names(rb, c.service);
            vec![format!("{x} pg_restore -U {user} -d {db} --no-owner --clean --if-exists < {file}")]
        }
        Engine::Mysql | Engine::Mariadb => {
            let (_, client, password) = my_tools(c.engine);
            vec![format!("{x} sh -c 'exec {client} -uroot -p\"{password}\"' < {file}")]
        }
        Engine::Mongo => {
            let auth = mongo_auth(c.service);
            vec![format!("{x} sh -c 'exec mongorestore --archive --drop{auth}' < {file}")]
        }
        // Redis reads its dump only when it starts: no saving meanwhile, the file in place, a restart without saving.
        Engine::Redis => vec![
            redis_cli(x, c.service, "CONFIG SET save \"\""),
            format!("{x} sh -c 'cat > {}/dump.rdb' < {file}", first.mount),
            format!("{} || true", redis_cli(x, c.service, "SHUTDOWN NOSAVE")),
        ],
        Engine::Files => c
            .service
            .own_volumes()
            .map(|v| format!("{x} tar -C {} -xf - < {}", word(&v.mount), dump_file(c, v)))
            .collect(),
    }
}

fn verify_commands(rb: &mut Runbook, c: &Carried, x: &str) -> Vec<String> {
    let name = &c.service.name;
    match c.engine {
        Engine::Postgres => {
            let (user, db) = pg_names(rb, c.service);
            vec![
                pg_counts(x, &user, &db, &format!("{name}.counts.after")),
                format!("diff {name}.counts.before {name}.counts.after"),
            ]
        }
        // Also waits for the restart after a restore.
        Engine::Redis => vec![wait_until(
            &format!("[ \"$({} 2>/dev/null)\" = \"$(cat {name}.keys.before)\" ]", redis_cli(x, c.service, "DBSIZE")),
            30,
            5,
            "",
        )],
        _ => Vec::new(),
    }
}

/// `redis-cli ARGS` in the container, authenticated with the service's password
/// secret when it has one (its name contains PASSWORD): the container's own
/// environment holds the value, which `REDISCLI_AUTH` hands to redis-cli
/// without a command-line argument. `args` holds no single quote.
fn redis_cli(x: &str, service: &Service, args: &str) -> String {
    match service.secrets.iter().find(|s| s.contains("PASSWORD")) {
        Some(secret) => format!("{x} sh -c 'REDISCLI_AUTH=\"${secret}\" exec redis-cli {args}'"),
        None => format!("{x} redis-cli {args}"),
    }
}

fn method(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "pg_dump",
        Engine::Mysql => "mysqldump",
        Engine::Mariadb => "mariadb-dump",
        Engine::Mongo => "mongodump",
        Engine::Redis => "SAVE, dump.rdb",
        Engine::Files => "tar of the volume",
    }
}

/// Steps: back up each carried service where its data is, writes already stopped.
pub fn backup_steps(ctx: &Ctx, rb: &mut Runbook, carried: &[&Carried]) {
    let a = ctx.a;
    for c in carried {
        let on = ops::runs_on(a, &c.old.name, ctx.before);
        let x = ops::exec(ctx.model, a, c.old);
        if a.target != Target::K8s {
            ops::declare_app(rb, ctx.model);
        }
        let commands = backup_commands(rb, c, &x);
        let files = backup_files(c);
        let mut notes = vec![format!(
            "{} stay in the current directory on {on}: keep them until the new phase has run for a while",
            files.join(", ")
        )];
        if c.engine == Engine::Postgres {
            notes.push(format!(
                "{}.counts.before holds every table's exact row count, to compare afterwards",
                c.old.name
            ));
        }
        if c.keep {
            notes.push("a safety copy: the volume itself carries the data over".to_owned());
        }
        let n = rb.run(format!("Back up {} ({})", c.old.name, method(c.engine)), Some(&on), commands, notes);
        rb.touched(&c.old.name, n);
    }
}

/// Steps: restore what moves into the new phase, then check what arrived.
pub fn restore_steps(ctx: &Ctx, rb: &mut Runbook, carried: &[&Carried]) {
    let b = ctx.b;
    for c in carried {
        let on = ops::runs_on(b, &c.service.name, ctx.after);
        let x = ops::exec(ctx.model, b, c.service);
        if b.target != Target::K8s {
            ops::declare_app(rb, ctx.model);
        }
        let mut commands = Vec::new();
        let mut notes = Vec::new();
        let title = if c.keep {
            notes.push(keep_reason(ctx, c));
            format!("Check {}'s data in phase {}", c.service.name, b.number)
        } else {
            commands = restore_commands(rb, c, &x);
            let from = ops::runs_on(ctx.a, &c.old.name, ctx.before);
            if from != on {
                notes.push(format!(
                    "copy {} from {from} to {on} first (scp): the commands read them from the current directory",
                    backup_files(c).join(", ")
                ));
            }
            format!("Restore {} into phase {}", c.service.name, b.number)
        };
        if c.old.image != c.service.image {
            notes.push(format!(
                "the image changes ({} → {}): check that it reads the data of the old one",
                c.old.image, c.service.image
            ));
        }
        commands.extend(verify_commands(rb, c, &x));
        if commands.is_empty() {
            continue;
        }
        if c.engine == Engine::Postgres {
            notes.push("diff prints nothing when every table has the rows it had".to_owned());
        }
        let n = rb.run(title, Some(&on), commands, notes);
        rb.touched(&c.service.name, n);
    }
}

fn keep_reason(ctx: &Ctx, c: &Carried) -> String {
    let volumes: Vec<String> = c
        .service
        .own_volumes()
        .map(|v| format!("{}_{}", ctx.model.project, names::volume_name(c.service, &v.name)))
        .collect();
    match (ctx.a.target, ctx.b.target) {
        (Target::K8s, Target::K8s) => format!("it stays on {} with its persistent volume claim", c.to),
        (a, b) if a != b => format!(
            "it stays on {}, and the new phase mounts the volume the old one wrote ({}): Docker names it after the project, and the {} name repeats the {} project's ($APP)",
            c.to,
            volumes.join(", "),
            if b == Target::Swarm { "stack" } else { "compose" },
            if a == Target::Swarm { "stack" } else { "compose" },
        ),
        _ => format!("it stays on {} with its volume ({})", c.to, volumes.join(", ")),
    }
}

/// The data table: what moves or stays, why, and the steps that do it.
pub fn rows(ctx: &Ctx, carried: &[Carried], rb: &Runbook) -> Vec<DataMove> {
    let mut out = Vec::new();
    for c in carried {
        let steps = rb.steps_of(&c.service.name);
        if steps.is_empty() {
            continue;
        }
        let why = if c.keep {
            keep_reason(ctx, c)
        } else if ctx.a.target != ctx.b.target && (ctx.a.target == Target::K8s || ctx.b.target == Target::K8s) {
            format!(
                "the target changes ({} → {}): the new phase starts with empty volumes",
                ctx.a.target.as_str(),
                ctx.b.target.as_str()
            )
        } else {
            format!("it moves from {} to {}, and a local volume stays behind", c.from, c.to)
        };
        let steps: Vec<String> = steps.iter().map(usize::to_string).collect();
        let how = if c.keep {
            format!("kept in place, backed up first ({}); steps {}", method(c.engine), steps.join(", "))
        } else {
            format!("backed up ({}) and restored into the new phase; steps {}", method(c.engine), steps.join(", "))
        };
        for volume in c.service.own_volumes() {
            let size = volume.size.or_else(|| c.old.own_volumes().find(|v| v.name == volume.name).and_then(|v| v.size));
            out.push(DataMove {
                service: c.service.name.clone(),
                volume: volume.name.clone(),
                size: size.map(|s| mem(s.bytes())),
                why: why.clone(),
                how: how.clone(),
            });
        }
    }
    out
}
