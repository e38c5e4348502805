-- The brief's sample table, created on the first start of the compose source database (empty data
-- volume) so that the connector's initial snapshot has rows to carry. Runs before 20-pgferry-roles.sh.
CREATE TABLE IF NOT EXISTS public.users (
  id serial PRIMARY KEY,
  username varchar(50) NOT NULL UNIQUE,
  email varchar(255) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO public.users (username, email) VALUES
  ('alice', 'alice@example.com'),
  ('bob', 'bob@example.com'),
  ('carol', 'carol@example.com')
ON CONFLICT (username) DO NOTHING;
